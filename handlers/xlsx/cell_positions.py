"""Where calamine places the cells of a worksheet part, replayed tag by tag on raw XML.

This follows calamine's xlsx cell reader (src/xlsx/cells_reader.rs, `next_cell`, and
`worksheet_range_ref`) rule for rule, so that a count made here is the count calamine would make:

* elements are matched by local name (`<x:c>` is a cell) and attributes by exact name (`r`, not
  `x:r`), quoted either way, with spaces allowed around `=` (quick-xml's attribute rules);
* `<row r="N">` sets the current row to N (a column part is ignored); `</row>` moves to the next row
  and back to column A, so rows without `r` follow the previous one;
* a cell's `r` is letters (either case) then digits, with no upper bound (rows past 1,048,576 and
  columns past XFD are kept); a cell without `r` takes the current row and the column after the
  previous cell's;
* the used rectangle spans only cells that hold a value: a cell with no `<v>`/`<is>`, an empty
  `<v>` of a number, shared-string, boolean or error cell and a formula without a cached value are
  all empty (a styled empty cell at XFD1048576 costs nothing), while an empty `<v>` of a `t="str"` or
  `t="d"` cell and any `<is>` are empty strings and count (checked against calamine 0.37, the one
  python-calamine 0.9.1 bundles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATTRS = rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*"
# Start tags, end tags and self-closing tags of the elements that matter, by local name.
_TAG = re.compile(rb"<(/?)(?:[A-Za-z_][\w.-]*:)?(row|c|v|is|f)(?=[\s/>])(" + _ATTRS + rb")>")
_ATTRIBUTE = re.compile(rb"(?:^|\s)([\w.:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_REFERENCE = re.compile(rb"([A-Za-z]*)([0-9]+)")
# Plain spellings only (literal prefixes keep these at C speed): a chunk with any other cell tag is
# replayed without the shortcut below.
_OTHER_CELL = re.compile(rb'<c(?=[\s/>])(?! r=")|:c[\s/>]')
_SELF_CLOSED_CELLS = re.compile(rb'(?:<c r="[^"]*"[^>]*/>\s*)+')
_PLAIN_VALUE_TYPES = (None, b"n", b"s", b"b", b"e")  # an empty <v> of these types is an empty cell
_INLINE_TYPES = (b"inlineStr", b"is")  # their <v> is ignored; the value is in <is>


def attribute(attrs: bytes, name: bytes) -> bytes | None:
    """The value of the attribute called exactly `name` in a start tag's attribute text."""
    for match in _ATTRIBUTE.finditer(attrs):
        if match[1] == name:
            return match[2] if match[2] is not None else match[3]
    return None


def reference(text: bytes) -> tuple[int, int] | None:
    """calamine's 0-based (row, column) of a reference such as `B7` or `xfd2000000`; column -1 if absent."""
    match = _REFERENCE.fullmatch(text)
    if match is None or int(match[2]) == 0:
        return None  # calamine refuses the sheet: nothing is allocated
    col = 0
    for char in match[1].upper():
        col = col * 26 + char - 64
    return int(match[2]) - 1, col - 1


@dataclass(slots=True)
class CellPlacer:
    """Replays calamine's cell positions over consecutive chunks of one sheet part.

    `valued_only=False` counts every cell element (a cheap upper bound); `valued_only=True` counts
    only the cells calamine keeps, which is the rectangle it allocates.
    """

    valued_only: bool
    row: int = 0
    col: int = 0
    first_row: int = -1
    first_col: int = -1
    last_row: int = -1
    last_col: int = -1
    cells: int = 0
    _cell: tuple[int, int] | None = None
    _type: bytes | None = None
    _valued: bool = False
    _in: bytes = b""  # the open <v> or <is> child of the current cell
    _text: bool = False  # text seen inside the open <v>

    def feed(self, chunk: bytes) -> None:
        """Replay the tags of `chunk`, which must not cut a tag in two."""
        if self.valued_only and _OTHER_CELL.search(chunk) is None:
            # Every cell here has its own position, so a self-closed one (a styled empty cell,
            # written by the ten thousand by some producers) changes nothing: drop them at C speed.
            chunk = _SELF_CLOSED_CELLS.sub(b"", chunk)
        position = 0
        for match in _TAG.finditer(chunk):
            if self._in == b"v" and match.start() > position:
                self._text = True
            position = match.end()
            closing, name, attrs = match[1] == b"/", match[2], match[3]
            self_closing = attrs.endswith(b"/")
            if not closing:
                self._start(name, attrs)
            if closing or self_closing:
                self._end(name)
        if self._in == b"v" and position < len(chunk):
            self._text = True

    @property
    def area(self) -> int:
        """rows x columns of the rectangle spanned by the counted cells (0 when there are none)."""
        if self.cells == 0:
            return 0
        return (self.last_row - self.first_row + 1) * (self.last_col - self.first_col + 1)

    def _start(self, name: bytes, attrs: bytes) -> None:
        if name == b"row":
            given = attribute(attrs, b"r")
            place = reference(given) if given is not None else None
            if place is not None:
                self.row = place[0]
        elif name == b"c":
            given = attribute(attrs, b"r")
            place = reference(given) if given is not None else (self.row, self.col)
            if place is not None and place[1] >= 0:
                self.col = place[1]
            self._cell = place if place is not None and place[1] >= 0 else None
            self._type, self._valued, self._in = attribute(attrs, b"t"), False, b""
            if not self.valued_only:
                # Counted (and the column moved on) at once: the rest of the cell may lie in a
                # chunk that the caller does not replay.
                self._finish_cell()
        elif self._cell is not None:
            self._child(name)

    def _child(self, name: bytes) -> None:
        if name == b"v":
            self._in, self._text = b"v", False
        elif name == b"is":
            self._in, self._valued = b"is", True  # calamine keeps even an empty <is/> as ""
        elif name == b"f":
            self._valued = False  # a formula element holds no value; a later <v> may

    def _end(self, name: bytes) -> None:
        if name == b"row":
            self.row, self.col = self.row + 1, 0
        elif name == b"c" and self.valued_only:
            self._finish_cell()
        elif name == b"v" and self._in == b"v":
            self._in = b""
            if self._type in _INLINE_TYPES:
                self._valued = False
            else:
                self._valued = self._text or self._type not in _PLAIN_VALUE_TYPES
        elif name == b"is":
            self._in = b""

    def _finish_cell(self) -> None:
        cell, self._cell = self._cell, None
        self.col += 1
        if cell is None or (self.valued_only and not self._valued):
            return
        row, col = cell
        if self.cells == 0:
            self.first_row, self.first_col, self.last_row, self.last_col = row, col, row, col
        else:
            self.first_row, self.last_row = min(self.first_row, row), max(self.last_row, row)
            self.first_col, self.last_col = min(self.first_col, col), max(self.last_col, col)
        self.cells += 1
