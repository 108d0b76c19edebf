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
from tests.handlers.builders import b64, report_workbook, rezip

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


OLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject"
IMAGE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
VML_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/vmlDrawing"


def rels(*entries: tuple[str, str, str]) -> bytes:
    body = "".join(f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>' for rid, kind, target in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>'
    ).encode()


# A legacy VML drawing as Excel writes it: a comment whose HTML is not well-formed XML (`<br>`), then the
# preview shapes of two embedded objects.
VML = b"""<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"
 xmlns:x="urn:schemas-microsoft-com:office:excel">
 <v:shape id="_x0000_s2050" type="#_x0000_t202" style='position:absolute;width:96pt;height:55.5pt'>
  <v:textbox><div style='text-align:left'>a note<br>on two lines</div></v:textbox>
  <x:ClientData ObjectType="Note"><x:Anchor>1, 15, 0, 2, 3, 15, 3, 13</x:Anchor></x:ClientData>
 </v:shape>
 <v:shape id="_x0000_s2049" type="#_x0000_t75" style='position:absolute;
  margin-left:10pt;margin-top:20pt;width:1in;height:54pt;z-index:1'>
  <v:imagedata o:relid="rId1" o:title=""/>
  <x:ClientData ObjectType="Pict"><x:Anchor>
    3, 0, 4, 0, 4, 32, 7, 5</x:Anchor><x:CF>Pict</x:CF></x:ClientData>
 </v:shape>
 <v:shape id="_x0000_s2051" type="#_x0000_t75" style='position:absolute;width:30pt;height:15pt'>
  <v:imagedata o:relid="rId2" o:title=""/>
  <x:ClientData ObjectType="Pict"><x:Anchor>0, 0, 0, 0, 1, 0, 1, 0</x:Anchor></x:ClientData>
 </v:shape></xml>"""
OLE_OBJECTS = b"""<legacyDrawing r:id="rId3"/><oleObjects>
<oleObject progId="Package" shapeId="2049" r:id="rId1"/>
<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">
 <mc:Choice Requires="x14"><oleObject progId="Word.Document.12" shapeId="2051" r:id="rId2">
  <objectPr defaultSize="0" r:id="rId4"><anchor moveWithCells="1"><from><xdr:col>5</xdr:col><xdr:colOff>0</xdr:colOff>
  <xdr:row>9</xdr:row><xdr:rowOff>0</xdr:rowOff></from><to><xdr:col>6</xdr:col><xdr:colOff>0</xdr:colOff>
  <xdr:row>10</xdr:row><xdr:rowOff>0</xdr:rowOff></to></anchor></objectPr></oleObject></mc:Choice>
 <mc:Fallback><oleObject progId="Word.Document.12" shapeId="2051" r:id="rId2"/></mc:Fallback>
</mc:AlternateContent></oleObjects>"""


def workbook_with_embedded_objects() -> tuple[bytes, bytes, bytes]:
    """The report workbook with two embedded objects on "Other": a WMF preview (VML only) and an EMF one
    (objectPr, Excel 2010+, with the VML shape pointing at an older copy)."""
    preview_wmf, preview_emf = wmf(96, 72), emf(40, 20)
    data = report_workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet2.xml")
    assert b'xmlns:r="' in sheet and b"_rels/sheet2.xml.rels" not in data
    # The objects come last in the sheet; xdr: is declared on the root, as Excel does.
    xdr = b'xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
    sheet = sheet.replace(b"<worksheet ", b"<worksheet " + xdr, 1).replace(
        b"</worksheet>", OLE_OBJECTS + b"</worksheet>"
    )
    extra = {
        "xl/worksheets/_rels/sheet2.xml.rels": rels(
            ("rId1", OLE_REL, "../embeddings/oleObject1.bin"),
            ("rId2", OLE_REL, "../embeddings/oleObject2.bin"),
            ("rId3", VML_REL, "../drawings/vmlDrawing1.vml"),
            ("rId4", IMAGE_REL, "../media/preview2.emf"),
        ),
        "xl/drawings/vmlDrawing1.vml": VML,
        "xl/drawings/_rels/vmlDrawing1.vml.rels": rels(
            ("rId1", IMAGE_REL, "../media/preview1.wmf"), ("rId2", IMAGE_REL, "../media/preview2-old.emf")
        ),
        "xl/media/preview1.wmf": preview_wmf,
        "xl/media/preview2.emf": preview_emf,
        "xl/media/preview2-old.emf": emf(10, 10),
        "xl/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 60,
        "xl/embeddings/oleObject2.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 60,
    }
    return rezip(data, {"xl/worksheets/sheet2.xml": sheet}, extra=extra), preview_wmf, preview_emf


def test_previews_of_embedded_objects_are_returned_where_the_sheet_places_them() -> None:
    data, preview_wmf, preview_emf = workbook_with_embedded_objects()
    images = images_of(data, "Other")
    # The VML shape places the first (D5, 1in x 54pt); objectPr gives the second its own picture and
    # anchor (F10); its mc:Fallback copy is not a third.
    assert [(i["anchor"], i["format"], i["width"], i["height"], i["in_cell"]) for i in images] == [
        ("D5", "wmf", 96, 72, False),
        ("F10", "emf", 40, 20, False),  # 30pt x 15pt, from the VML shape
    ]
    assert [base64.b64decode(i["data_base64"]) for i in images] == [preview_wmf, preview_emf]
    assert images_of(data, "Report")[0]["format"] == "png"  # the other sheet keeps its own picture only


def test_embedded_objects_of_a_real_workbook_come_with_their_emf_previews() -> None:
    path = require_corpus_file(CORPUS / "xlsx" / "apache__spreadsheet_ExcelWithAttachments.xlsm")
    images = images_of(path.read_bytes(), "Страница 1")
    with zipfile.ZipFile(path) as archive:
        previews = [archive.read(f"xl/media/image{n}.emf") for n in (1, 2, 3, 4)]  # VML rId1..rId4
    assert [(i["anchor"], i["format"]) for i in images] == [
        ("H18", "emf"),
        ("E24", "emf"),
        ("A30", "emf"),
        ("E35", "emf"),
    ]
    assert [base64.b64decode(i["data_base64"]) for i in images] == previews


def test_embedded_objects_written_for_excel_2010_are_not_counted_twice() -> None:
    path = require_corpus_file(CORPUS / "xlsx" / "apache__spreadsheet_58325_db.xlsx")
    images = images_of(path.read_bytes(), "MetasNM001")
    with zipfile.ZipFile(path) as archive:
        previews = [archive.read(f"xl/media/image{n}.emf") for n in (1, 2, 3)]  # objectPr rId4, rId6, rId8
    assert [(i["anchor"], i["width"], i["height"]) for i in images] == [("B3", 96, 72), ("C4", 96, 72), ("B4", 96, 72)]
    assert [base64.b64decode(i["data_base64"]) for i in images] == previews
