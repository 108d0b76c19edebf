"""Pictures placed over cells: the `pic` elements of a sheet's drawing parts, with their anchors."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from handlers.common.ooxml import local_name, parse_part, relationships
from handlers.xlsx.cells import Cell

_DRAWING_REL = "/drawing"
_IMAGE_REL = "/image"
_ANCHORS = {"twoCellAnchor", "oneCellAnchor", "absoluteAnchor"}
_EMU_PER_PIXEL = 9525  # 914,400 EMU per inch at 96 pixels per inch


@dataclass(frozen=True, slots=True)
class Picture:
    """Where a picture is shown and which media part it shows."""

    anchor: str | None  # top-left cell in A1 notation; None for an absolute position
    part: str
    extent: tuple[int, int] | None  # displayed size in pixels, when the drawing gives one
    in_cell: bool = False


def drawing_pictures(archive: zipfile.ZipFile, sheet_part: str) -> Iterator[Picture]:
    """The pictures of every drawing of the sheet, in document order."""
    for kind, drawing in relationships(archive, sheet_part).values():
        if kind.endswith(_DRAWING_REL) and drawing in archive.NameToInfo:
            rels = relationships(archive, drawing)
            for anchor in _elements(parse_part(archive, drawing), _ANCHORS):
                yield from _anchor_pictures(anchor, rels)


def _anchor_pictures(anchor: Element, rels: dict[str, tuple[str, str]]) -> Iterator[Picture]:
    cell = from_cell(anchor)
    anchor_extent = _extent(next((child for child in anchor if local_name(child.tag) == "ext"), None))
    for pic in _elements(anchor, {"pic"}):
        blip = next(_elements(pic, {"blip"}), None)
        embed = _embed_id(blip) if blip is not None else None
        rel = rels.get(embed or "")
        if rel is None or not rel[0].endswith(_IMAGE_REL):
            continue
        xfrm_ext = next((e for e in _elements(pic, {"ext"}) if e.get("cx") is not None), None)
        yield Picture(cell, rel[1], _extent(xfrm_ext) or anchor_extent)


def _elements(root: Element, names: set[str]) -> Iterator[Element]:
    """Descendants with one of `names`, skipping markup-compatibility fallbacks (copies of the choice)."""
    for child in root:
        name = local_name(child.tag)
        if name == "Fallback":
            continue
        if name in names:
            yield child
        else:
            yield from _elements(child, names)


def from_cell(anchor: Element) -> str | None:
    """The A1 cell of the first `<from>` marker (col/row) in an anchor or an object's properties."""
    marker = next((e for e in anchor.iter() if local_name(e.tag) == "from"), None)
    if marker is None:
        return None
    values = {local_name(child.tag): (child.text or "").strip() for child in marker}
    try:
        return Cell(int(values["row"]), int(values["col"])).a1
    except (KeyError, ValueError):
        return None


def _extent(element: Element | None) -> tuple[int, int] | None:
    if element is None:
        return None
    try:
        width, height = int(element.get("cx", "")), int(element.get("cy", ""))
    except ValueError:
        return None
    if width <= 0 or height <= 0:
        return None
    return round(width / _EMU_PER_PIXEL), round(height / _EMU_PER_PIXEL)


def _embed_id(blip: Element) -> str | None:
    # r:embed, in the Transitional or the Strict relationships namespace.
    return next((value for key, value in blip.attrib.items() if key.endswith("}embed")), None)
