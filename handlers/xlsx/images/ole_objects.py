"""The preview pictures of embedded objects (OLE): what Excel shows for a Word document, a PDF...

A sheet lists its embedded objects in `<oleObjects>`, after the cells: each `<oleObject shapeId>`
names a shape of the sheet's legacy VML drawing (`<v:shape id="_x0000_s1025">`), whose
`<v:imagedata o:relid>` points, through the VML part's relationships, at the preview picture (usually
an EMF), and whose `<x:Anchor>` ("left column, offset, top row, offset, ...") places it. Excel 2010
and later also write `<objectPr r:id>` (the same picture, through the sheet's relationships) with an
`<anchor><from>`; where both exist, those are used. Objects written for older readers inside
`mc:Fallback` repeat the ones of `mc:Choice` and are skipped.

The sheet part is only streamed (for its root tag and its `<oleObjects>`) when its relationships
include an embedded object, so sheets without one cost nothing more. VML is read with patterns, not
an XML parser: Excel writes VML that is not always well-formed.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree  # type: ignore[import-untyped]

from handlers.common.ooxml import local_name, relationships
from handlers.xlsx.cells import Cell
from handlers.xlsx.images.drawing import Picture, from_cell
from handlers.xlsx.sheet_area import xml_chunks

_OBJECT_RELS = ("/oleObject", "/package")
_VML_REL = "/vmlDrawing"
_IMAGE_REL = "/image"
_ATTRS = rb"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_ROOT = re.compile(rb"<((?:[\w.-]+:)?worksheet)(?=[\s>])" + _ATTRS + rb">")
_OLE_START = re.compile(rb"<(?:[\w.-]+:)?oleObjects[\s>]")
_OLE_END = re.compile(rb"</(?:[\w.-]+:)?oleObjects\s*>")
_SHAPE = re.compile(rb"<(?:[\w.-]+:)?shape(?=[\s>/])(" + _ATTRS + rb")>(.*?)</(?:[\w.-]+:)?shape\s*>", re.S)
_IMAGEDATA = re.compile(rb"<(?:[\w.-]+:)?imagedata(?=[\s/>])(" + _ATTRS + rb")>")
_ANCHOR = re.compile(rb"<(?:[\w.-]+:)?Anchor\s*>([^<]*)<")
_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SHAPE_NUMBER = re.compile(r"_s(\d+)$")
_LENGTH = re.compile(r"(?:^|;)\s*(width|height)\s*:\s*([0-9.]+)\s*(pt|in|px|cm|mm)?", re.I)
_PIXELS_PER = {"pt": 96 / 72, "in": 96.0, "px": 1.0, "cm": 96 / 2.54, "mm": 96 / 25.4}
_EMU_PER_PIXEL = 9525


@dataclass(frozen=True, slots=True)
class _Object:
    """One `<oleObject>`: its VML shape number and, when given, its own picture and anchor."""

    shape: int | None
    picture_rel: str | None
    anchor: str | None


@dataclass(frozen=True, slots=True)
class _Shape:
    """One VML shape with a picture."""

    part: str
    anchor: str | None
    extent: tuple[int, int] | None


def ole_object_pictures(archive: zipfile.ZipFile, sheet_part: str) -> Iterator[Picture]:
    """The preview picture of each embedded object on the sheet, in the order the sheet lists them."""
    rels = relationships(archive, sheet_part)
    if not any(kind.endswith(_OBJECT_RELS) for kind, _ in rels.values()):
        return
    objects = _objects(archive, sheet_part)
    if not objects:
        return
    shapes: dict[int, _Shape] = {}
    for kind, vml in rels.values():
        if kind.endswith(_VML_REL) and vml in archive.NameToInfo:
            shapes.update(_vml_shapes(archive, vml))
    for found in objects:
        shape = shapes.get(found.shape) if found.shape is not None else None
        rel = rels.get(found.picture_rel or "")
        part = rel[1] if rel is not None and rel[0].endswith(_IMAGE_REL) else shape.part if shape else None
        if part is not None:
            anchor = found.anchor or (shape.anchor if shape else None)
            yield Picture(anchor, part, shape.extent if shape else None)


def _objects(archive: zipfile.ZipFile, sheet_part: str) -> list[_Object]:
    fragment = _ole_objects_fragment(archive, sheet_part)
    if fragment is None:
        return []
    try:
        root: Element = ElementTree.fromstring(fragment)
    except (ParseError, ValueError):  # defusedxml's refusals are ValueErrors; damaged: no previews
        return []
    return [_object(element) for element in _ole_object_elements(root)]


def _ole_objects_fragment(archive: zipfile.ZipFile, sheet_part: str) -> bytes | None:
    """The sheet's `<oleObjects>` element inside a copy of its root tag (for the namespace prefixes)."""
    root: re.Match[bytes] | None = None
    collected: list[bytes] = []
    for chunk in xml_chunks(archive, sheet_part):
        if root is None:
            root = _ROOT.search(chunk)
        piece = chunk
        if not collected:
            start = _OLE_START.search(chunk)
            if start is None:
                continue
            piece = chunk[start.start() :]
        end = _OLE_END.search(piece)
        collected.append(piece if end is None else piece[: end.end()])
        if end is not None:
            break
    else:
        return None
    if root is None:
        return None
    return root[0] + b"".join(collected) + b"</" + root[1] + b">"


def _ole_object_elements(root: Element) -> Iterator[Element]:
    for child in root:
        name = local_name(child.tag)
        if name == "Fallback":
            continue
        if name == "oleObject":
            yield child
        else:
            yield from _ole_object_elements(child)


def _object(element: Element) -> _Object:
    shape = element.get("shapeId", "")
    properties = next((child for child in element if local_name(child.tag) == "objectPr"), None)
    picture_rel = _relationship_id(properties) if properties is not None else None
    anchor = from_cell(properties) if properties is not None else None
    return _Object(int(shape) if shape.isdigit() else None, picture_rel, anchor)


def _relationship_id(element: Element) -> str | None:
    # r:id, in the Transitional or the Strict relationships namespace.
    return next((value for key, value in element.attrib.items() if key.endswith("}id")), None)


def _vml_shapes(archive: zipfile.ZipFile, vml: str) -> dict[int, _Shape]:
    rels = relationships(archive, vml)
    shapes: dict[int, _Shape] = {}
    for match in _SHAPE.finditer(archive.read(vml)):
        attrs = _attributes(match[1])
        number = _SHAPE_NUMBER.search(attrs.get("o:spid") or attrs.get("id", ""))
        image = _IMAGEDATA.search(match[2])
        if number is None or image is None:
            continue
        image_attrs = _attributes(image[1])
        rel = rels.get(image_attrs.get("o:relid") or image_attrs.get("r:id", ""))
        if rel is None or not rel[0].endswith(_IMAGE_REL):
            continue
        anchor = _ANCHOR.search(match[2])
        shapes[int(number[1])] = _Shape(rel[1], _vml_anchor(anchor[1]) if anchor else None, _extent(attrs))
    return shapes


def _attributes(raw: bytes) -> dict[str, str]:
    return {
        m[1].decode(errors="replace"): (m[2] if m[2] is not None else m[3]).decode(errors="replace")
        for m in _ATTRIBUTE.finditer(raw)
    }


def _vml_anchor(text: bytes) -> str | None:
    """The top-left cell of `<x:Anchor>`: left column, its offset, top row, its offset, then the bottom right."""
    parts = text.decode(errors="replace").split(",")
    try:
        return Cell(int(parts[2]), int(parts[0])).a1
    except (IndexError, ValueError):
        return None


def _extent(attrs: dict[str, str]) -> tuple[int, int] | None:
    """The displayed size in pixels from the shape's CSS style (`width:3in;height:2in`)."""
    sizes = {}
    for name, number, unit in _LENGTH.findall(attrs.get("style", "")):
        try:
            sizes[name.lower()] = round(float(number) * _PIXELS_PER[(unit or "px").lower()])
        except ValueError:
            return None
    if sizes.get("width", 0) <= 0 or sizes.get("height", 0) <= 0:
        return None
    return sizes["width"], sizes["height"]
