"""The images rule: pictures of any format over cells, and pictures placed in cells."""

from __future__ import annotations

import base64
import io
import re
import struct
import zipfile
from typing import Any

import xlsxwriter

from handlers.extract import extract
from tests.corpus import CORPUS, require_corpus_file
from tests.handlers.builders import b64

EMU_PER_PIXEL = 9525


def emf(width: int, height: int) -> bytes:
    """A minimal Enhanced Metafile: an EMR_HEADER (signature ' EMF' at offset 40) and an EMR_EOF."""
    eof = struct.pack("<5I", 14, 20, 0, 16, 20)
    bounds = (0, 0, width - 1, height - 1)
    frame = (0, 0, width * 2646 // 100, height * 2646 // 100)  # 0.01 mm at 96 dpi
    header = struct.pack(
        "<2I4i4i4I2H3I4i",
        1,
        88,
        *bounds,
        *frame,
        0x464D4520,
        0x10000,
        88 + len(eof),
        2,
        1,
        0,
        0,
        0,
        0,
        1024,
        768,
        270,
        203,
    )
    return header + eof


def wmf(width: int, height: int) -> bytes:
    """A minimal placeable Windows Metafile: the Aldus header, a META_HEADER and a META_EOF."""
    fields = struct.pack("<IH4hHI", 0x9AC6CDD7, 0, 0, 0, width, height, 96, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", fields):
        checksum ^= word
    return (
        fields
        + struct.pack("<H", checksum)
        + struct.pack("<HHHIHIH", 1, 9, 0x300, 12, 0, 3, 0)
        + struct.pack("<IH", 3, 0)
    )


def images_of(data: bytes, sheet: str) -> list[dict[str, Any]]:
    payload = {"excel_base64": b64(data), "config": {"sheets": {sheet: {"extraction_rules": [{"type": "images"}]}}}}
    images: list[dict[str, Any]] = extract(payload)["data"]["sheets"][sheet]["images"]
    return images


def test_emf_and_wmf_pictures_are_returned_as_stored_with_their_displayed_size() -> None:
    pictures = {"emf": emf(120, 60), "wmf": wmf(200, 100)}
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Pics")
    sheet.insert_image("B2", "logo.emf", {"image_data": io.BytesIO(pictures["emf"])})
    sheet.insert_image("D5", "logo.wmf", {"image_data": io.BytesIO(pictures["wmf"])})
    book.close()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        drawing = archive.read("xl/drawings/drawing1.xml").decode()
    extents = [
        (round(int(cx) / EMU_PER_PIXEL), round(int(cy) / EMU_PER_PIXEL))
        for cx, cy in re.findall(r'<a:ext cx="(\d+)" cy="(\d+)"', drawing)
    ]

    images = images_of(out.getvalue(), "Pics")

    assert [(i["anchor"], i["format"], (i["width"], i["height"]), i["in_cell"]) for i in images] == [
        ("B2", "emf", extents[0], False),
        ("D5", "wmf", extents[1], False),
    ]
    assert [base64.b64decode(i["data_base64"]) for i in images] == [pictures["emf"], pictures["wmf"]]


def test_pictures_placed_in_cells_are_returned_at_their_cell() -> None:
    path = require_corpus_file(CORPUS / "xlsx" / "tafia__pictures_in_cell_and_over_cell.xlsx")
    with zipfile.ZipFile(path) as archive:
        media = {name: archive.read(name) for name in archive.namelist() if name.startswith("xl/media/")}

    images = images_of(path.read_bytes(), "Sheet1")

    placed = {(i["anchor"], i["in_cell"]): base64.b64decode(i["data_base64"]) for i in images}
    assert set(placed) == {("E9", False), ("A1", True), ("A3", True)}
    assert placed[("A1", True)] == media["xl/media/image1.png"]
    assert placed[("A3", True)] == media["xl/media/image2.png"]
    assert placed[("E9", False)] == media["xl/media/image3.png"]


def test_a_single_place_in_cell_picture_comes_with_its_pixel_size() -> None:
    path = require_corpus_file(CORPUS / "xlsx" / "tafia__picture_richdata.xlsx")
    [image] = images_of(path.read_bytes(), "Sheet1")
    assert (image["anchor"], image["format"], image["in_cell"]) == ("B2", "png", True)
    assert (image["width"], image["height"]) == (740, 524)


def test_a_picture_shown_by_several_anchors_is_encoded_once() -> None:
    path = require_corpus_file(CORPUS / "xlsx" / "SheetJS__wps_image.xlsx")
    images = images_of(path.read_bytes(), "Sheet1")
    assert [i["anchor"] for i in images] == ["A1", "F1", "A13"]
    # One base64 string object shared by every anchor: the part was read and encoded once.
    assert images[0]["data_base64"] is images[1]["data_base64"] is images[2]["data_base64"]
