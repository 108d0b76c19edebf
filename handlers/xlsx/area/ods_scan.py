"""The fast reading of an .ods content.xml for the size pre-check: C-speed counts, row by row.

LibreOffice, Excel and Google write content.xml flat: rows hold cells, cells hold text. For such a
row, whole in one chunk, without repeats or formulas, the count is a few C-speed substring counts:
its cells, and how often `value` occurs in it. Every attribute that gives a value has `value` in its
name, so at least one mention per cell counts the row as all values (text may mention it too, which
can only widen the count), and none as all empty. Other rows are counted cell by cell from their
tags. Whatever the scan does not follow (comments, CDATA, processing instructions, a row or a table
tag inside a row) raises NotFlat, and the file is read by expat.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from handlers.xlsx.area.ods_model import VALUE_ATTRIBUTES, Row, Table, repeats

_ATTRS = rb"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_STRUCTURE = re.compile(rb"<(/?)table:(table-row|table)(?=[\s/>])(" + _ATTRS + rb")>")
_CELL_TAG = re.compile(rb"<table:(?:covered-)?table-cell(?=[\s/>])(" + _ATTRS + rb")>")
_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_MARKUP = re.compile(rb"<[!?]")
_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\?>")


class NotFlat(Exception):
    """content.xml holds markup the fast scan does not follow; read it with a parser."""


def scan(chunks: Iterable[bytes], max_cells: int) -> None:
    """Count every named table of content.xml (in chunks cut between tags); raise UnsafeFile or NotFlat."""
    scanner = _Scanner(max_cells)
    for index, chunk in enumerate(chunks):
        declaration = _DECLARATION.match(chunk) if index == 0 else None
        if _MARKUP.search(chunk, declaration.end() if declaration else 0):
            raise NotFlat
        scanner.feed(chunk)


def _attributes(raw: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(raw):
        key = match[1].decode(errors="replace")
        if key not in found:  # the first one, as quick-xml's lookups find
            value = (match[2] if match[2] is not None else match[3]).decode(errors="replace")
            found[key] = html.unescape(value) if "&" in value else value
    return found


class _Scanner:
    """Tables and rows found by their tags, cells counted per row."""

    def __init__(self, max_cells: int) -> None:
        self.max_cells = max_cells
        self.table: Table | None = None
        self.row: Row | None = None
        self.row_repeats = 1
        self.whole = False  # the open row started in the chunk being read, nothing counted yet

    def feed(self, chunk: bytes) -> None:
        position = 0
        while position < len(chunk):
            if self.row is not None:
                end = _row_end(chunk, position)
                if end < 0:
                    self._cells(chunk, position, len(chunk))
                    self.whole = False
                    return
                self._cells(chunk, position, end)
                self._end_row()
                position = end
                continue
            tag = _STRUCTURE.search(chunk, position)
            if tag is None:
                return
            self._structure(bool(tag[1]), tag[2], tag[3])
            position = tag.end()

    def _structure(self, closing: bool, name: bytes, raw: bytes) -> None:
        if name == b"table":
            if closing and self.table is not None:
                self.table.check(self.max_cells)
                self.table = None
            elif not closing and self.table is None:
                attrs = _attributes(raw)
                if "table:name" in attrs:
                    self.table = Table(attrs["table:name"])
        elif not closing and self.table is not None:
            self.row, self.whole = Row(), True
            self.row_repeats = repeats(_attributes(raw).get("table:number-rows-repeated"))
            if raw.rstrip().endswith(b"/"):
                self._end_row()

    def _cells(self, chunk: bytes, start: int, end: int) -> None:
        row = self.row
        if row is None:
            return
        cells = chunk.count(b"<table:table-cell", start, end)
        if chunk.count(b"<table:table", start, end) != cells:
            raise NotFlat  # a row or a table inside a row: inside a cell, which calamine skips
        cells += chunk.count(b"<table:covered-table-cell", start, end)
        if self.whole and chunk.find(b"repeated", start, end) < 0 and chunk.find(b"formula", start, end) < 0:
            # Every valued cell's tag has "value" in it; text may too, which can only widen.
            mentions = chunk.count(b"value", start, end)
            if mentions >= cells:
                row.pushed, row.values = cells, (0, cells - 1) if cells else None
                return
            if mentions == 0:
                row.pushed = max(cells - 1, 0)  # each empty cell is pushed when another follows it
                return
        self.whole = False
        for tag in _CELL_TAG.finditer(chunk, start, end):
            attrs = _attributes(tag[1])
            value = any(key in attrs for key in VALUE_ATTRIBUTES) or attrs.get("office:value-type") == "string"
            row.cell(repeats(attrs.get("table:number-columns-repeated")), value, bool(attrs.get("table:formula")))

    def _end_row(self) -> None:
        if self.table is not None and self.row is not None:
            self.table.add_row(self.row, self.row_repeats)
        self.row = None


def _row_end(chunk: bytes, position: int) -> int:
    """Where the end tag of the open row starts (`</table:table-row>`, not `</table:table-rows>`), or -1."""
    while (found := chunk.find(b"</table:table-row", position)) >= 0:
        after = chunk[found + 17 : found + 18]
        if after in (b">", b" ", b"\t", b"\n", b"\r"):
            return found
        position = found + 17
    return -1
