"""The cells calamine allocates for each sheet of an .xls (BIFF8 records in the Workbook stream).

This follows calamine's xls reader (src/xls.rs, `parse_workbook`), which reads every sheet when the
workbook is opened. For each sheet substream (from its BoundSheet8 offset to its EOF record):

* DIMENSIONS reserves rows x columns of cells up front, whatever the sheet holds (u32 arithmetic:
  a last row before the first wraps to four billion rows);
* Number, Label, BoolErr, RK, MulRk (a run of columns), LabelSst (unless its shared string is empty,
  which is not looked up here: see SparseSpan.maybe_kept) and Formula (with a cached value that is
  not a string; a string one comes in the String record after it, at the formula's cell) are cells;
  Blank and MulBlank (styled empty cells) are not read, and cost nothing;
* values and formulas are each a `from_sparse` rectangle over their cells in reading order.

A cell's row and column are u16s, so one far cell asks for up to 65,536 x 65,536 cells.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from handlers.xlsx.area.ole import read_stream
from handlers.xlsx.area.span import SparseSpan, refuse_if_larger

_EOF = 0x000A
_BOUND_SHEET = 0x0085
_FILEPASS = 0x002F
_DIMENSIONS = 0x0200
_FORMULA = 0x0006
_STRING = 0x0207
_MULRK = 0x00BD
_LABEL_SST = 0x00FD
# The value records read at their own (row, column), with the shortest payload calamine accepts:
# Number, Label, BoolErr, RK, LabelSst, MulRk (a run of columns).
_SHORTEST = {0x0203: 14, 0x0204: 6, 0x0205: 8, 0x027E: 10, _LABEL_SST: 10, _MULRK: 6}
_PAIR = struct.Struct("<HH").unpack_from
_U32 = 1 << 32


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "little")


def check_xls_area(data: bytes, max_cells: int) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for a sheet."""
    stream = read_stream(data, ("Workbook", "Book"))  # calamine's order
    for name, offset in _sheets(stream or b""):
        _check_sheet(stream or b"", offset, name, max_cells)


def _records(stream: bytes, position: int) -> Iterator[tuple[int, bytes]]:
    while position + 4 <= len(stream):
        kind, length = _u16(stream, position), _u16(stream, position + 2)
        yield kind, stream[position + 4 : position + 4 + length]
        position += 4 + length


def _sheets(stream: bytes) -> list[tuple[str, int]]:
    """The name and stream offset of each sheet, from the globals' BoundSheet8 records (none if encrypted)."""
    found = []
    for kind, payload in _records(stream, 0):
        if kind == _FILEPASS:
            return []  # calamine refuses an encrypted workbook before it reads a sheet
        if kind == _BOUND_SHEET and len(payload) >= 8:
            found.append((_sheet_name(payload), _u32(payload, 0)))
        if kind == _EOF:
            break
    return found


def _sheet_name(payload: bytes) -> str:
    """BoundSheet8's name: a count of characters, a flag byte (bit 0: two bytes each), the characters."""
    count, wide = payload[6], payload[7] & 1
    if wide:
        return payload[8 : 8 + 2 * count].decode("utf-16-le", errors="replace")
    return payload[8 : 8 + count].decode("latin-1")


def _check_sheet(stream: bytes, offset: int, label: str, max_cells: int) -> None:
    values, formulas = _scan_sheet(stream, offset, label, max_cells)
    for span in (values, formulas):
        refuse_if_larger(label, span.rows, span.cols, max_cells)


def _scan_sheet(stream: bytes, offset: int, label: str, max_cells: int) -> tuple[SparseSpan, SparseSpan]:
    """The value and formula spans of one sheet substream (DIMENSIONS checked on the way).

    One tight loop over the records: a sheet holds a record per cell, millions in a large file, so
    each value record updates local bounds instead of calling SparseSpan.add.
    """
    formulas = SparseSpan()
    first_row, last_row, first_col, last_col, unordered, maybe_kept = -1, 0, 0, 0, False, False
    formula_at = (0, 0)
    position, size = offset, len(stream)
    while position + 4 <= size:
        kind, length = _PAIR(stream, position)
        start, position = position + 4, position + 4 + length
        if length >= _SHORTEST.get(kind, 65_536) and position <= size:
            row, col = _PAIR(stream, start)
            end = col + max((length - 6) // 6, 1) - 1 if kind == _MULRK else col
            maybe_kept = maybe_kept or kind == _LABEL_SST
        elif kind == _STRING:
            (row, col), end = formula_at, formula_at[1]
        elif kind == _EOF:
            break
        elif kind == _DIMENSIONS:
            refuse_if_larger(label, *_reserved(stream[start:position]), max_cells)
            continue
        elif kind == _FORMULA and length >= 20 and position <= size:
            formula_at = _PAIR(stream, start)
            formulas.add(*formula_at)
            if stream[start + 6] == 0 and stream[start + 12 : start + 14] == b"\xff\xff":
                continue  # a string result: its value comes in the STRING record next
            (row, col), end = formula_at, formula_at[1]
        else:
            continue
        if first_row < 0:
            first_row, first_col, last_col = row, col, end
        else:
            unordered = unordered or row < last_row
            first_col, last_col = min(first_col, col), max(last_col, end)
        last_row = row
    values = SparseSpan(first_row, last_row, first_col, last_col, maybe_kept, unordered)
    return values, formulas


def _reserved(payload: bytes) -> tuple[int, int]:
    """The rows and columns DIMENSIONS makes calamine reserve (10- or 14-byte record)."""
    if len(payload) == 14:
        first_row, last_row, first_col, last_col = (
            _u32(payload, 0),
            _u32(payload, 4),
            _u16(payload, 8),
            _u16(payload, 10),
        )
    elif len(payload) == 10:
        first_row, last_row, first_col, last_col = (_u16(payload, at) for at in (0, 2, 4, 6))
    else:
        return 0, 0  # calamine refuses the record
    if last_row < 1 or last_col < 1:
        return 1, 1
    return (last_row - 1 - first_row + 1) % _U32, (last_col - 1 - first_col + 1) % _U32
