"""Find parts inside an Office package: the workbook, its sheets and their relationships."""

from __future__ import annotations

import posixpath
import zipfile
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree  # type: ignore[import-untyped]

from handlers.common.errors import InvalidFile

_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOC_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_OFFICE_DOCUMENT = "/officeDocument"


def relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """The relationships of `part`: id -> (type, target part path); empty when it has none."""
    folder, base = posixpath.split(part)
    rels_path = posixpath.join(folder, "_rels", f"{base}.rels")
    if rels_path not in archive.NameToInfo:
        return {}
    root = _parse(archive, rels_path)
    found: dict[str, tuple[str, str]] = {}
    for rel in root.iter(f"{_REL_NS}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[rel.get("Id", "")] = (rel.get("Type", ""), posixpath.normpath(path))
    return found


def main_part(archive: zipfile.ZipFile) -> str:
    """The path of the package's main document (the workbook or the presentation)."""
    for rel_type, target in relationships(archive, "").values():
        if rel_type.endswith(_OFFICE_DOCUMENT) and target in archive.NameToInfo:
            return target
    raise InvalidFile("the file has no main document part; it is not an Office document")


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet name -> part path, in workbook order."""
    workbook = main_part(archive)
    rels = relationships(archive, workbook)
    sheets: dict[str, str] = {}
    for sheet in _parse(archive, workbook).iter(f"{_MAIN_NS}sheet"):
        rel = rels.get(sheet.get(_DOC_REL, ""))
        if rel is not None and rel[0].endswith("/worksheet"):
            sheets[sheet.get("name", "")] = rel[1]
    return sheets


def _parse(archive: zipfile.ZipFile, path: str) -> Element:
    try:
        root: Element = ElementTree.fromstring(archive.read(path))
    except ParseError as error:
        raise InvalidFile(f"the file is damaged: {path} is not valid XML ({error})") from None
    return root
