"""Find parts inside an Office package: the workbook, its sheets and their relationships.

Both flavours of OOXML are read: Transitional (what Excel saves by default) and Strict (ISO/IEC
29500 strict, "Strict Open XML Spreadsheet"), which uses other namespace URIs for the same elements
and relationship types. Elements are matched by local name and relationship types by their last
path segment, so one code path serves both; `Flavour` says which one a package uses, for writers
that must answer in the package's own namespaces.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree  # type: ignore[import-untyped]

from handlers.common.errors import InvalidFile

_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOCUMENT = "/officeDocument"


@dataclass(frozen=True, slots=True)
class Flavour:
    """The namespace URIs of one OOXML flavour."""

    name: str
    spreadsheet: str  # the SpreadsheetML main namespace (workbook, sheets, tables...)
    relationships: str  # the r: namespace of r:id attributes, and the prefix of relationship types


TRANSITIONAL = Flavour(
    "transitional",
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
)
STRICT = Flavour(
    "strict",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
FLAVOURS = (TRANSITIONAL, STRICT)


def local_name(tag: str) -> str:
    """`{namespace}name` -> `name`."""
    return tag.rpartition("}")[2]


def relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """The relationships of `part`: id -> (type, target part path); empty when it has none."""
    folder, base = posixpath.split(part)
    rels_path = posixpath.join(folder, "_rels", f"{base}.rels")
    if rels_path not in archive.NameToInfo:
        return {}
    root = parse_part(archive, rels_path)
    found: dict[str, tuple[str, str]] = {}
    for rel in root.iter(f"{_REL_NS}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "").replace("\\", "/")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[rel.get("Id", "")] = (rel.get("Type", ""), posixpath.normpath(path))
    return found


def main_part(archive: zipfile.ZipFile) -> str:
    """The path of the package's main document (the workbook or the presentation)."""
    for rel_type, target in relationships(archive, "").values():
        if rel_type.endswith(_OFFICE_DOCUMENT) and target in archive.NameToInfo:
            return target
    raise InvalidFile("the file has no main document part; it is not an Office document")


def flavour_of(root: Element) -> Flavour:
    """The flavour of a parsed SpreadsheetML part, from its root element's namespace."""
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    for flavour in FLAVOURS:
        if namespace == flavour.spreadsheet:
            return flavour
    return TRANSITIONAL


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet name -> part path, in workbook order (chart sheets and dialog sheets are left out)."""
    workbook = main_part(archive)
    rels = relationships(archive, workbook)
    root = parse_part(archive, workbook)
    id_attribute = f"{{{flavour_of(root).relationships}}}id"
    sheets: dict[str, str] = {}
    for sheet in root.iter():
        if local_name(sheet.tag) != "sheet":
            continue
        rel = rels.get(sheet.get(id_attribute, ""))
        if rel is not None and rel[0].endswith("/worksheet"):
            sheets[sheet.get("name", "")] = rel[1]
    return sheets


def parse_part(archive: zipfile.ZipFile, path: str) -> Element:
    """A package part parsed with defusedxml; a damaged part is an InvalidFile naming it."""
    try:
        root: Element = ElementTree.fromstring(archive.read(path))
    except ParseError:
        raise InvalidFile(f"the file is damaged: its part {path} is not valid XML") from None
    return root
