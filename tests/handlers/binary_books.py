"""Small .xlsb, .xls and .ods files written byte by byte, for the size pre-checks' hostile cases.

No library in the project writes these formats, and the cases need records no writer would emit (a
cell at column four billion, rows out of order), so each is built from its specification: BIFF12
records in a zip (MS-XLSB), BIFF8 records in an OLE compound file (MS-XLS, MS-CFB), content.xml in
an OpenDocument zip.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterable

# --- .xlsb -------------------------------------------------------------------------------------------

XLSB_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
    b'<Override PartName="/xl/worksheets/sheet1.bin" ContentType="application/vnd.ms-excel.worksheet"/>'
    b"</Types>"
)
XLSB_ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="xl/workbook.bin"/></Relationships>'
)
XLSB_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'worksheet" Target="worksheets/sheet1.bin"/></Relationships>'
)


def record(kind: int, payload: bytes = b"") -> bytes:
    """One BIFF12 record: its type and length in 7-bit groups, then the payload."""
    head = bytes([kind]) if kind < 0x80 else bytes([(kind & 0x7F) | 0x80, kind >> 7])
    length, size = bytearray(), len(payload)
    while True:
        byte, size = size & 0x7F, size >> 7
        length.append(byte | (0x80 if size else 0))
        if not size:
            break
    return head + bytes(length) + payload


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def xlsb(
    cells: Iterable[tuple[int, int, float]], *, blanks: Iterable[tuple[int, int]] = (), body: bytes | None = None
) -> bytes:
    """A one-sheet .xlsb ("Sheet1"): a BrtCellReal per cell and a BrtCellBlank per blank, row by row as
    given; or `body`, the records of the sheet data as they are."""
    workbook = (
        record(0x83)  # BrtBeginBook
        + record(0x8F)  # BrtBeginBundleShs
        + record(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("Sheet1"))
        + record(0x90)  # BrtEndBundleShs
        + record(0x9D, b"\0" * 24)  # BrtCalcProp, which calamine reads as the end of the names
        + record(0x84)  # BrtEndBook
    )
    rows: dict[int, list[bytes]] = {}
    for row, col, value in cells:
        rows.setdefault(row, []).append(record(0x05, struct.pack("<IId", col, 0, value)))
    for row, col in blanks:
        rows.setdefault(row, []).append(record(0x01, struct.pack("<II", col, 0)))
    body = (
        body
        if body is not None
        else b"".join(
            record(0x00, struct.pack("<IIHBBI", row, 0, 0, 0, 0, 0)) + b"".join(found) for row, found in rows.items()
        )
    )
    sheet = (
        record(0x81)  # BrtBeginSheet
        + record(0x94, struct.pack("<IIII", 0, 0, 0, 0))  # BrtWsDim: calamine does not trust it, nor do we
        + record(0x91)  # BrtBeginSheetData
        + body
        + record(0x92)  # BrtEndSheetData
        + record(0x82)  # BrtEndSheet
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", XLSB_CONTENT_TYPES)
        archive.writestr("_rels/.rels", XLSB_ROOT_RELS)
        archive.writestr("xl/workbook.bin", workbook)
        archive.writestr("xl/_rels/workbook.bin.rels", XLSB_WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.bin", sheet)
    return out.getvalue()


# --- .xls --------------------------------------------------------------------------------------------


def biff(kind: int, payload: bytes = b"") -> bytes:
    """One BIFF8 record."""
    return struct.pack("<HH", kind, len(payload)) + payload


def xls(
    cells: Iterable[tuple[int, int, float]],
    *,
    blanks: Iterable[tuple[int, int]] = (),
    dimensions: tuple[int, int, int, int] | None = None,
    extra: bytes = b"",
    stream_name: str | None = "Workbook",
) -> bytes:
    """A one-sheet .xls ("Sheet1"): a NUMBER record per cell and a BLANK per blank, in the order given.

    `dimensions` is the DIMENSIONS record's (first row, last row + 1, first column, last column + 1);
    by default it covers the cells. `extra` is more records of the sheet, after the cells. With
    `stream_name` None, the BIFF8 stream alone (for compound_file).
    """
    cells, blanks = list(cells), list(blanks)
    if dimensions is None:
        positions = [(row, col) for row, col, _ in cells] + blanks or [(0, 0)]
        dimensions = (
            min(r for r, _ in positions),
            max(r for r, _ in positions) + 1,
            min(c for _, c in positions),
            max(c for _, c in positions) + 1,
        )
    sheet = (
        biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 0x0600))
        + biff(0x0200, struct.pack("<IIHHH", *dimensions, 0))
        + b"".join(biff(0x0203, struct.pack("<HHHd", row, col, 0, value)) for row, col, value in cells)
        + b"".join(biff(0x0201, struct.pack("<HHH", row, col, 0)) for row, col in blanks)
        + extra
        + biff(0x000A)
    )
    name = b"Sheet1"

    def globals_(offset: int) -> bytes:
        return (
            biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x0600))
            + biff(0x0042, struct.pack("<H", 1200))  # CODEPAGE: UTF-16
            + biff(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name), 0) + name)
            + biff(0x000A)
        )

    head = len(globals_(0))
    stream = globals_(head) + sheet
    return compound_file({stream_name: stream.ljust(4096, b"\0")}) if stream_name else stream.ljust(4096, b"\0")


def compound_file(streams: dict[str, bytes]) -> bytes:
    """An OLE compound file (version 3, 512-byte sectors) holding `streams` of 4096 bytes or more each."""
    sector = 512
    data = b""
    entries = []
    next_sector = 1  # sector 0 is the FAT, the directory comes after the streams
    for name, content in streams.items():
        padded = content + b"\0" * (-len(content) % sector)
        entries.append((name, next_sector, len(content)))
        data += padded
        next_sector += len(padded) // sector
    directory_sector = next_sector
    fat = [0xFFFFFFFD]  # the FAT's own sector
    for _, start, size in entries:
        count = -(-size // sector)
        fat += [start + i + 1 for i in range(count - 1)] + [0xFFFFFFFE]
    fat.append(0xFFFFFFFE)  # the directory, one sector
    fat += [0xFFFFFFFF] * (sector // 4 - len(fat))

    def entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF) -> bytes:
        encoded = name.encode("utf-16-le") + b"\0\0"
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", 0xFFFFFFFF, 0xFFFFFFFF, child)
            + b"\0" * 16
            + b"\0" * 4
            + b"\0" * 16
            + struct.pack("<IQ", start, size)
        )

    directory = entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1 if entries else 0xFFFFFFFF)
    for name, start, size in entries:
        directory += entry(name, 2, start, size)
    directory = directory.ljust(sector, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, directory_sector, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<I", 0)
        + b"\xff" * (109 * 4 - 4)
    )
    return header + struct.pack(f"<{sector // 4}I", *fat) + data + directory


# --- .ods --------------------------------------------------------------------------------------------

ODS_NAMESPACES = (
    b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"'
)


def ods(rows: bytes, *, table: bytes = b'table:name="Sheet1"') -> bytes:
    """An .ods whose one table holds `rows` (table:table-row elements, written as given)."""
    content = (
        b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        + ODS_NAMESPACES
        + b"><office:body><office:spreadsheet><table:table "
        + table
        + b">"
        + rows
        + b"</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr(
            "META-INF/manifest.xml",
            b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            b'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
            b'<manifest:file-entry manifest:full-path="/" '
            b'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            b"</manifest:manifest>",
        )
        archive.writestr("content.xml", content)
    return out.getvalue()


def value(number: float, repeats: int = 1) -> bytes:
    """A table cell holding a number, repeated across `repeats` columns."""
    repeat = b' table:number-columns-repeated="%d"' % repeats if repeats > 1 else b""
    return b'<table:table-cell office:value-type="float" office:value="%g"%s/>' % (number, repeat)


def empty(repeats: int = 1, style: bytes = b"ce1") -> bytes:
    """A styled empty table cell, repeated across `repeats` columns."""
    repeat = b' table:number-columns-repeated="%d"' % repeats if repeats > 1 else b""
    return b'<table:table-cell table:style-name="%s"%s/>' % (style, repeat)


def row(*cells: bytes, repeats: int = 1) -> bytes:
    """A table row of `cells`, repeated down `repeats` rows."""
    repeat = b' table:number-rows-repeated="%d"' % repeats if repeats > 1 else b""
    return b"<table:table-row%s>%s</table:table-row>" % (repeat, b"".join(cells))
