"""The cells calamine allocates for each table of an .ods, counted from content.xml's repeats.

This follows calamine's ods reader (src/ods.rs, `read_table`, `read_row`, `get_range`), which parses
every table when the workbook is opened, so the whole of content.xml is counted before that:

* elements are matched by qualified name as written (`table:table-row`, `table:table-cell`,
  `table:covered-table-cell`), and only tables that have a `table:name` are read;
* in a row, a cell with a value (any of office:value, string-value, date-value, time-value,
  boolean-value, or office:value-type="string", even without text) or a formula is pushed
  `table:number-columns-repeated` times, after the empty cells pending before it; a run of empty
  cells is pushed only when another cell follows it, so the empty (styled) cells that LibreOffice
  writes out to column 16,384 at the end of each row cost nothing;
* the cells pushed, row by row, are held at once (`raw`): one value cell after a billion empty ones
  is a billion cells;
* then values and formulas each get the rectangle from the first to the last row that holds one
  (each row element counted `table:number-rows-repeated` times, empty rows between included, the
  empty rows after the last one not) and from the smallest to the largest column that does.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.parsers import expat

from handlers.common.errors import InvalidFile
from handlers.xlsx.area.span import refuse_if_larger

_READ = 1024 * 1024
_VALUE_ATTRIBUTES = (
    "office:value",
    "office:string-value",
    "office:date-value",
    "office:time-value",
    "office:boolean-value",
)
_CELLS = ("table:table-cell", "table:covered-table-cell")
_COUNT = re.compile(r"\+?[0-9]+")  # what Rust's usize parser accepts


def _repeats(value: str | None) -> int:
    # A count calamine cannot parse fails the whole workbook; counting it as 1 only over-counts
    # what comes before that failure.
    return int(value) if value is not None and _COUNT.fullmatch(value) else 1


@dataclass(slots=True)
class _Rectangle:
    """get_range's bounds over the row elements for values (or formulas)."""

    first_row: int = -1  # index of the first row element holding one
    last_row: int = -1
    first_col: int = 0
    last_col: int = 0

    def add(self, row: int, first: int, last: int) -> None:
        if self.first_row < 0:
            self.first_row, self.first_col, self.last_col = row, first, last
        else:
            self.first_col, self.last_col = min(self.first_col, first), max(self.last_col, last)
        self.last_row = row

    def shape(self, repeats: list[int]) -> tuple[int, int]:
        if self.first_row < 0:
            return 0, 0
        return sum(repeats[self.first_row : self.last_row + 1]), self.last_col - self.first_col + 1


@dataclass(slots=True)
class _Row:
    """The cells pushed for one row element, and where its values and formulas sit."""

    pushed: int = 0
    pending_empty: int = 0
    values: tuple[int, int] | None = None
    formulas: tuple[int, int] | None = None

    def cell(self, repeats: int, value: bool, formula: bool) -> None:
        self.pushed += self.pending_empty
        self.pending_empty = 0
        if not (value or formula):
            self.pending_empty = repeats
            return
        span = (self.pushed, self.pushed + repeats - 1)
        if value:
            self.values = span if self.values is None else (self.values[0], span[1])
        if formula:
            self.formulas = span if self.formulas is None else (self.formulas[0], span[1])
        self.pushed += repeats


@dataclass(slots=True)
class _Table:
    """One table's count: the cells pushed, and the value and formula rectangles."""

    name: str
    raw: int = 0
    widest: int = 0
    rows_pushed: int = 0
    repeats: list[int] = field(default_factory=list)
    values: _Rectangle = field(default_factory=_Rectangle)
    formulas: _Rectangle = field(default_factory=_Rectangle)

    def add_row(self, row: _Row, repeats: int) -> None:
        index = len(self.repeats)
        self.repeats.append(repeats)
        self.raw += row.pushed
        if row.pushed:
            self.widest, self.rows_pushed = max(self.widest, row.pushed), self.rows_pushed + 1
        if row.values is not None:
            self.values.add(index, *row.values)
        if row.formulas is not None:
            self.formulas.add(index, *row.formulas)

    def check(self, max_cells: int) -> None:
        for rows, cols in (self.values.shape(self.repeats), self.formulas.shape(self.repeats)):
            refuse_if_larger(self.name, rows, cols, max_cells)
        if self.raw > max_cells:  # the rows as pushed, before the rectangle is cut out of them
            refuse_if_larger(self.name, self.rows_pushed, self.widest, max_cells)


class _Counter:
    """expat handlers (names as written, no namespace processing) that count table by table."""

    def __init__(self, max_cells: int) -> None:
        self.max_cells = max_cells
        self.table: _Table | None = None
        self.row: _Row | None = None
        self.row_repeats = 1

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == "table:table" and self.table is None:
            if "table:name" in attrs:
                self.table = _Table(attrs["table:name"])
        elif self.table is None:
            return
        elif name == "table:table-row":
            self._end_row()
            self.row, self.row_repeats = _Row(), _repeats(attrs.get("table:number-rows-repeated"))
        elif name in _CELLS and self.row is not None:
            value = any(key in attrs for key in _VALUE_ATTRIBUTES) or attrs.get("office:value-type") == "string"
            formula = bool(attrs.get("table:formula"))
            self.row.cell(_repeats(attrs.get("table:number-columns-repeated")), value, formula)

    def end(self, name: str) -> None:
        if self.table is None:
            return
        if name == "table:table-row":
            self._end_row()
        elif name == "table:table":
            self._end_row()
            self.table.check(self.max_cells)
            self.table = None

    def _end_row(self) -> None:
        if self.table is not None and self.row is not None:
            self.table.add_row(self.row, self.row_repeats)
        self.row = None


def check_ods_area(archive: zipfile.ZipFile, max_cells: int) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for a table."""
    if "content.xml" not in archive.NameToInfo:
        return  # calamine refuses the file itself
    counter = _Counter(max_cells)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = counter.start
    parser.EndElementHandler = counter.end
    feed: Callable[[bytes, bool], int] = parser.Parse
    try:
        with archive.open("content.xml") as source:
            while block := source.read(_READ):
                feed(block, False)
            feed(b"", True)
    except expat.ExpatError:
        raise InvalidFile("the file is damaged: its content.xml is not well-formed XML") from None
