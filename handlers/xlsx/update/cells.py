"""One row's cells, and the XML of a written cell.

A written cell keeps every attribute of the cell it replaces (style, phonetic flag...) except those that
describe the old value: its type `t`, and `cm`/`vm` (cell and value metadata: dynamic-array and
rich-value bindings of the old content).
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field
from typing import Any

from handlers.common.errors import UpdateFailed
from handlers.xlsx.cells import column_index, column_letters
from handlers.xlsx.update.rows import VALUE_TAG, damaged
from handlers.xlsx.update.xml import TOKEN, attributes, edit_attrs, escape_text

_PREFIX = rb"(?:[A-Za-z_][\w.\-]*:)?"
_CELL_LEVEL = re.compile(rb"<(?:(/?)(" + _PREFIX + rb"c)(?=[\s/>])|(!--|!\[CDATA\[|\?))")
_SPECIAL_END = {b"!--": b"-->", b"![CDATA[": b"]]>", b"?": b"?>"}
_CELL_REF = re.compile(rb"\s*\$?([A-Za-z]{1,3})\$?[0-9]+\s*")
_OLD_VALUE_ATTRS = {b"t": None, b"cm": None, b"vm": None}
_EPOCH_1900 = datetime.datetime(1899, 12, 30)
_EPOCH_1900_EARLY = datetime.datetime(1899, 12, 31)  # before 1900-03-01: Excel's phantom 1900-02-29
_EPOCH_1904 = datetime.datetime(1904, 1, 1)


@dataclass(slots=True)
class Cell:
    """A cell of a parsed row: its 0-based column, its bytes, and the raw text before it."""

    col: int
    data: bytes
    explicit: bool
    lead: bytes = b""

    @property
    def start(self) -> bytes:
        """The cell's start tag."""
        match = TOKEN.match(self.data)
        return self.data[: match.end()] if match else self.data

    @property
    def attrs_raw(self) -> bytes:
        """The raw attribute text of the cell's start tag."""
        match = TOKEN.match(self.data)
        return match.group(3) if match and match.group(3) is not None else b""

    @property
    def attrs(self) -> dict[bytes, bytes]:
        """The cell's attributes."""
        return attributes(self.attrs_raw)

    @property
    def has_value(self) -> bool:
        """Whether the cell holds a value or formula (a styled empty cell does not)."""
        return VALUE_TAG.search(self.data) is not None


@dataclass(slots=True)
class ParsedRow:
    """A row split into its start tag, its cells and what follows the last cell (an extLst)."""

    qname: bytes
    attrs: bytes
    cells: list[Cell] = field(default_factory=list)
    trailer: bytes = b""


def parse_row(data: bytes, part: str) -> ParsedRow:
    """Split a row element's bytes into cells with their columns (implicit ones counted on)."""
    start = TOKEN.match(data)
    if start is None or start.group(2) is None:
        raise damaged(part, "has a row that is not well-formed")
    row = ParsedRow(start.group(2), start.group(3))
    if start.group(4) == b"/":
        return row
    position, lead_from, col = start.end(), start.end(), -1
    while (match := _CELL_LEVEL.search(data, position)) is not None:
        if match.group(3) is not None:
            end = data.find(_SPECIAL_END[match.group(3)], match.end())
            position = len(data) if end < 0 else end + len(_SPECIAL_END[match.group(3)])
            continue
        if match.group(1) == b"/":
            raise damaged(part, "has a cell end tag without its start")
        tag = TOKEN.match(data, match.start())
        if tag is None:
            raise damaged(part, "has a cell start tag that is not well-formed")
        end = tag.end() if tag.group(4) == b"/" else _cell_end(data, tag.end(), match.group(2), part)
        ref = attributes(tag.group(3)).get(b"r")
        ref_match = _CELL_REF.fullmatch(ref) if ref is not None else None
        col = column_index(ref_match.group(1).decode()) if ref_match else col + 1
        row.cells.append(Cell(col, data[match.start() : end], ref_match is not None, data[lead_from : match.start()]))
        position = lead_from = end
    row.trailer = data[lead_from : data.rfind(b"</")]
    return row


def _cell_end(data: bytes, position: int, qname: bytes, part: str) -> int:
    while (match := _CELL_LEVEL.search(data, position)) is not None:
        if match.group(3) is not None:
            end = data.find(_SPECIAL_END[match.group(3)], match.end())
            position = len(data) if end < 0 else end + len(_SPECIAL_END[match.group(3)])
            continue
        if match.group(1) == b"/" and match.group(2) == qname:
            return data.index(b">", match.end()) + 1
        break
    raise damaged(part, "has a cell that is not closed")


def with_position(cell: Cell, row_number: int) -> bytes:
    """The cell's bytes with an explicit `r` for its column in row `row_number`."""
    match = TOKEN.match(cell.data)
    if match is None:
        return cell.data
    ref = f"{column_letters(cell.col)}{row_number}".encode()
    head = b"<" + match.group(2) + edit_attrs(match.group(3), {b"r": ref}) + (b"/>" if match.group(4) else b">")
    return head + cell.data[match.end() :]


def cell_xml(
    prefix: bytes, row_number: int, col: int, old_attrs: bytes, value: Any, *, formula: bool, style: bytes | None
) -> bytes:
    """A `<c>` element writing `value` (or a formula without a cached value) at that position."""
    ref = f"{column_letters(col)}{row_number}".encode()
    changes: dict[bytes, bytes | None] = {b"r": ref, **_OLD_VALUE_ATTRS}
    if style is not None:
        changes[b"s"] = style
    kind, body = _content(prefix, value, formula)
    if kind is not None:
        changes[b"t"] = kind
    attrs = edit_attrs(old_attrs, changes)
    name = prefix + b"c"
    return b"<" + name + attrs + b"/>" if not body else b"<" + name + attrs + b">" + body + b"</" + name + b">"


def _content(prefix: bytes, value: Any, formula: bool) -> tuple[bytes | None, bytes]:
    """The `t` attribute and the children for a value."""
    if formula:
        return None, _element(prefix, b"f", escape_text(str(value).removeprefix("=")))
    if value is None:
        return None, b""
    if isinstance(value, bool):
        return b"b", _element(prefix, b"v", b"1" if value else b"0")
    if isinstance(value, int):
        return None, _element(prefix, b"v", str(value).encode())
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UpdateFailed(f"{value} is not a number Excel can store")
        return None, _element(prefix, b"v", _number(value))
    if isinstance(value, datetime.datetime):
        raise TypeError("dates are written as serial numbers by the caller")
    text = str(value)
    space = b' xml:space="preserve"' if text != text.strip() or "\n" in text else b""
    inner = b"<" + prefix + b"t" + space + b">" + escape_text(text) + b"</" + prefix + b"t>"
    return b"inlineStr", _element(prefix, b"is", inner)


def _element(prefix: bytes, name: bytes, content: bytes) -> bytes:
    return b"<" + prefix + name + b">" + content + b"</" + prefix + name + b">"


def _number(value: float) -> bytes:
    # repr() is the shortest text that reads back as the same double: no digits invented or lost.
    return (str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)).encode()


def date_serial(value: datetime.datetime, date1904: bool) -> float:
    """The serial number of a date in the workbook's date system (1900 or 1904)."""
    moment = value.replace(tzinfo=None)
    early = moment < datetime.datetime(1900, 3, 1)
    epoch = _EPOCH_1904 if date1904 else (_EPOCH_1900_EARLY if early else _EPOCH_1900)
    serial = (moment - epoch) / datetime.timedelta(days=1)
    if serial < (0 if date1904 else 1):
        raise UpdateFailed(f"{value.isoformat()} is before the first date this workbook can hold")
    return serial


def number_value(serial: float) -> float | int:
    """A serial as written: whole days as an integer."""
    return int(serial) if serial.is_integer() else serial
