"""Pictures placed in cells ("Place in Cell", Excel 365): rich values that point at media parts.

A cell's `vm` attribute (1-based) picks a value-metadata block in xl/metadata.xml; its `rc v` picks a
future-metadata block whose `xlrd:rvb i` is the index of a rich value (xl/richData/rdrichvalue.xml).
A rich value of a `_localImage` structure holds, under its `_rvRel:LocalImageIdentifier` key, the
index of a relationship in xl/richData/richValueRel.xml, whose target is the picture.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from handlers.common.ooxml import local_name, main_part, parse_part, relationships
from handlers.xlsx.cell_positions import attribute, reference
from handlers.xlsx.cells import Cell
from handlers.xlsx.images.drawing import Picture
from handlers.xlsx.sheet_area import xml_chunks

_CELL_WITH_VM = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?c\s((?:[^>\"']|\"[^\"]*\"|'[^']*')*\bvm\s*=(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>"
)
_IMAGE_KEY = "_rvRel:LocalImageIdentifier"


def in_cell_pictures(archive: zipfile.ZipFile, sheet_part: str) -> Iterator[Picture]:
    """The pictures held by the sheet's cells, anchored at the cell that holds each."""
    targets = _rich_value_pictures(archive)
    if not targets:
        return
    for cell, value_metadata in _cells_with_metadata(archive, sheet_part):
        target = targets.get(value_metadata)
        if target is not None:
            yield Picture(cell, target, None, in_cell=True)


def _cells_with_metadata(archive: zipfile.ZipFile, sheet_part: str) -> Iterator[tuple[str, int]]:
    for chunk in xml_chunks(archive, sheet_part):
        if b"vm" not in chunk:
            continue
        for match in _CELL_WITH_VM.finditer(chunk):
            ref, vm = attribute(match[1], b"r"), attribute(match[1], b"vm")
            place = reference(ref) if ref else None
            if place is not None and place[1] >= 0 and vm is not None and vm.isdigit():
                yield Cell(*place).a1, int(vm)


def _rich_value_pictures(archive: zipfile.ZipFile) -> dict[int, str]:
    """Value-metadata index (the cells' `vm`) -> picture part, for every in-cell picture of the workbook."""
    parts = {kind.rpartition("/")[2]: target for kind, target in relationships(archive, main_part(archive)).values()}
    needed = ("sheetMetadata", "rdRichValue", "rdRichValueStructure", "richValueRel")
    if not all(parts.get(name) in archive.NameToInfo for name in needed):
        return {}
    rich_values = _rich_value_indexes(parse_part(archive, parts["sheetMetadata"]))
    images = _image_relations(archive, parts)
    structures = [_image_key_position(s) for s in _children(parse_part(archive, parts["rdRichValueStructure"]), "s")]
    values = _children(parse_part(archive, parts["rdRichValue"]), "rv")
    found: dict[int, str] = {}
    for vm, index in rich_values.items():
        if not 0 <= index < len(values):
            continue
        value = values[index]
        structure = int(value.get("s", "-1"))
        position = structures[structure] if 0 <= structure < len(structures) else None
        fields = _children(value, "v")
        if position is None or position >= len(fields) or not (fields[position].text or "").strip().isdigit():
            continue
        target = images.get(int((fields[position].text or "").strip()))
        if target is not None:
            found[vm] = target
    return found


def _rich_value_indexes(metadata: Element) -> dict[int, int]:
    """`vm` (1-based) -> rich value index, through the XLRICHVALUE metadata type."""
    types = [item.get("name") for item in _descendants(metadata, "metadataType")]
    future = next((e for e in _descendants(metadata, "futureMetadata") if e.get("name") == "XLRICHVALUE"), None)
    values = next(_descendants(metadata, "valueMetadata"), None)
    if future is None or values is None or "XLRICHVALUE" not in types:
        return {}
    kind = types.index("XLRICHVALUE") + 1
    blocks = [next(_descendants(block, "rvb"), None) for block in _children(future, "bk")]
    found: dict[int, int] = {}
    for vm, block in enumerate(_children(values, "bk"), start=1):
        record = next(_descendants(block, "rc"), None)
        if record is None or record.get("t") != str(kind) or not (record.get("v") or "").isdigit():
            continue
        future_index = int(record.get("v", "0"))
        rvb = blocks[future_index] if future_index < len(blocks) else None
        if rvb is not None and (rvb.get("i") or "").isdigit():
            found[vm] = int(rvb.get("i", "0"))
    return found


def _image_relations(archive: zipfile.ZipFile, parts: dict[str, str]) -> dict[int, str]:
    rels = relationships(archive, parts["richValueRel"])
    found: dict[int, str] = {}
    for index, rel in enumerate(_children(parse_part(archive, parts["richValueRel"]), "rel")):
        rel_id = next((value for key, value in rel.attrib.items() if key.endswith("}id")), "")
        if rel_id in rels and rels[rel_id][0].endswith("/image"):
            found[index] = rels[rel_id][1]
    return found


def _image_key_position(structure: Element) -> int | None:
    keys = [key.get("n") for key in _children(structure, "k")]
    return keys.index(_IMAGE_KEY) if structure.get("t") == "_localImage" and _IMAGE_KEY in keys else None


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if local_name(child.tag) == name]


def _descendants(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element.iter() if local_name(child.tag) == name)
