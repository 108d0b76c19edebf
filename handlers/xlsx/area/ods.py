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
  empty rows after the last one not) and from the smallest to the largest column that does;
* what a cell holds is not read for cells: calamine skips it (a row or a table inside a cell is not
  a row of the sheet), up to the cell's end tag (for a string cell without a value attribute, the
  first end tag of any cell, as its text reader stops there).

Most files are read by a fast scan (area/ods_scan.py: C-speed counts per row); a file with markup it
does not follow (comments, processing instructions, rows or tables inside cells) is read again here
by expat, element by element.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from xml.parsers import expat

from handlers.common.errors import InvalidFile
from handlers.xlsx.area.ods_model import VALUE_ATTRIBUTES, Row, Table, repeats
from handlers.xlsx.area.ods_scan import NotFlat, scan
from handlers.xlsx.sheet_area import xml_chunks

_READ = 1024 * 1024
_CELLS = ("table:table-cell", "table:covered-table-cell")


def check_ods_area(archive: zipfile.ZipFile, max_cells: int) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for a table."""
    if "content.xml" not in archive.NameToInfo:
        return  # calamine refuses the file itself
    try:
        scan(xml_chunks(archive, "content.xml"), max_cells)
    except NotFlat:
        count_with_parser(archive, max_cells)


def count_with_parser(archive: zipfile.ZipFile, max_cells: int) -> None:
    """check_ods_area by expat, element by element (whatever the file holds; slower than the scan)."""
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


class _Counter:
    """expat handlers (names as written, no namespace processing) that count table by table."""

    def __init__(self, max_cells: int) -> None:
        self.max_cells = max_cells
        self.table: Table | None = None
        self.row: Row | None = None
        self.row_repeats = 1
        # Inside a cell's content: the cell's name, whether it ends at any cell end tag (string
        # text), and how many cells of its name are open inside it.
        self.skipping: tuple[str, bool] | None = None
        self.depth = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self.skipping is not None:
            self.depth += name == self.skipping[0]
        elif name == "table:table" and self.table is None:
            if "table:name" in attrs:
                self.table = Table(attrs["table:name"])
        elif self.table is None:
            return
        elif name == "table:table-row":
            self._end_row()
            self.row, self.row_repeats = Row(), repeats(attrs.get("table:number-rows-repeated"))
        elif name in _CELLS and self.row is not None:
            valued = any(key in attrs for key in VALUE_ATTRIBUTES)
            text = not valued and attrs.get("office:value-type") == "string"
            self.row.cell(
                repeats(attrs.get("table:number-columns-repeated")), valued or text, bool(attrs.get("table:formula"))
            )
            self.skipping, self.depth = (name, text), 0

    def end(self, name: str) -> None:
        if self.skipping is not None:
            cell, text = self.skipping
            if (text and name in _CELLS) or (not text and name == cell and self.depth == 0):
                self.skipping = None
            elif not text and name == cell:
                self.depth -= 1
        elif self.table is None:
            return
        elif name == "table:table-row":
            self._end_row()
        elif name == "table:table":
            self._end_row()
            self.table.check(self.max_cells)
            self.table = None

    def _end_row(self) -> None:
        if self.table is not None and self.row is not None:
            self.table.add_row(self.row, self.row_repeats)
        self.row = None
