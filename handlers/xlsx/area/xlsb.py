"""The cells calamine allocates for each worksheet of an .xlsb (BIFF12 records in a zip).

This follows calamine's xlsb reader (src/xlsb/cells_reader.rs and mod.rs): a sheet part is a run of
records, each a type (1 or 2 bytes, 7 bits each) and a length (1 to 4 bytes, 7 bits each). calamine
reads up to BrtWsDim (never trusting it for the allocation), then skips to BrtBeginSheetData (past
whole blocks of views, column infos and such), then takes:

* BrtRowHdr (type 0): the current row is its first u32; a row past 0x100000 ends the sheet;
* BrtCellRk, BrtCellError, BrtCellBool, BrtCellReal, BrtCellSt, BrtCellIsst, BrtFmlaString,
  BrtFmlaNum and BrtFmlaBool (types 2 to 10, but 1 and 10's sibling 11): a cell at the current row,
  in the column of its first u32, which nothing bounds (so one record can name column 4 billion);
* BrtCellBlank (1, a styled empty cell) and BrtFmlaError (11) are not read: they cost nothing;
* BrtEndSheetData (0x92) ends the sheet.

Every read cell is a value (an empty string too), so the rectangle is `from_sparse` over them.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

from handlers.common.ooxml import local_name, parse_part
from handlers.xlsx.area.span import SparseSpan, refuse_if_larger

_WS_DIM = 0x0094
_BEGIN_SHEET_DATA = 0x0091
_END_SHEET_DATA = 0x0092
_ROW_HEADER = 0x0000
_CELLS = frozenset(range(0x0002, 0x000B))  # BrtCellRk .. BrtFmlaBool
_MAX_ROW = 0x0010_0000
# Blocks calamine skips whole on its way to BrtBeginSheetData: begin record -> end record.
_SKIPPED_BLOCKS = {0x0085: 0x0086, 0x0025: 0x0026, 0x0186: 0x0187}
_BUNDLE_SHEET = 0x009C
_END_BUNDLE_SHEETS = 0x0090
_NO_RELATIONSHIP = 0xFFFF_FFFF
_RELS = "xl/_rels/workbook.bin.rels"


def check_xlsb_area(archive: zipfile.ZipFile, max_cells: int) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for a worksheet."""
    for sheet, part in _worksheets(archive):
        if part in archive.NameToInfo:
            span = sheet_span(archive.read(part))
            refuse_if_larger(sheet, span.rows, span.cols, max_cells)


def sheet_span(data: bytes) -> SparseSpan:
    """The cells calamine reads from one worksheet part, as the bounds of its rectangle."""
    span = SparseSpan()
    records = _records(data)
    for kind, _start, _end in records:
        if kind == _WS_DIM:
            break
    _skip_to_sheet_data(records)
    row = 0
    for kind, start, end in records:
        if kind == _ROW_HEADER:
            row = _u32(data, start, end)
            if row > _MAX_ROW:
                break
        elif kind in _CELLS:
            span.add(row, _u32(data, start, end))
        elif kind == _END_SHEET_DATA:
            break
    return span


def _skip_to_sheet_data(records: Iterator[tuple[int, int, int]]) -> None:
    for kind, _start, _end in records:
        if kind == _BEGIN_SHEET_DATA:
            return
        block_end = _SKIPPED_BLOCKS.get(kind)
        if block_end is not None:
            for inner, _s, _e in records:
                if inner == block_end:
                    break


def _records(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(type, start, end) of each record's payload; a record cut short ends the part, as in calamine."""
    position, size = 0, len(data)
    while position < size:
        kind = data[position]
        position += 1
        if kind & 0x80:
            if position >= size:
                return
            kind = (kind & 0x7F) | ((data[position] & 0x7F) << 7)
            position += 1
        length, shift = 0, 0
        for _ in range(4):
            if position >= size:
                return
            byte = data[position]
            position += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if position + length > size:
            return  # calamine fails to fill the record: the sheet ends in an error, nothing more read
        yield kind, position, position + length
        position += length


def _u32(data: bytes, start: int, end: int) -> int:
    # calamine reads the first four bytes of the payload (a shorter one makes it fail: count zero).
    return int.from_bytes(data[start : start + 4], "little") if end - start >= 4 else 0


def _worksheets(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(name, part) of each worksheet, from workbook.bin's BrtBundleSh records and its relationships."""
    workbook = archive.read("xl/workbook.bin")
    # calamine opens "xl/" + the raw target (not normalised), and takes it for a worksheet when the
    # folder after xl/ is "worksheets".
    targets: dict[str, str] = {}
    if _RELS in archive.NameToInfo:
        for rel in parse_part(archive, _RELS).iter():
            if local_name(rel.tag) == "Relationship":
                targets[rel.get("Id", "")] = rel.get("Target", "")
    sheets = []
    for kind, start, end in _records(workbook):
        if kind == _END_BUNDLE_SHEETS:
            break
        if kind == _BUNDLE_SHEET:
            found = _bundle_sheet(workbook[start:end])
            if found is not None and found[0] in targets:
                path = f"xl/{targets[found[0]]}"
                if path.split("/")[1:2] == ["worksheets"]:
                    sheets.append((found[1], path))
    return sheets


def _bundle_sheet(payload: bytes) -> tuple[str, str] | None:
    """The relationship id and name of a BrtBundleSh (hsState, iTabID, strRelID, strName)."""
    rel_chars = int.from_bytes(payload[8:12], "little")
    if rel_chars == _NO_RELATIONSHIP:
        return None
    rel_end = 12 + 2 * rel_chars
    name_chars = int.from_bytes(payload[rel_end : rel_end + 4], "little")
    relid = payload[12:rel_end].decode("utf-16-le", errors="replace")
    name = payload[rel_end + 4 : rel_end + 4 + 2 * name_chars].decode("utf-16-le", errors="replace")
    return relid, name
