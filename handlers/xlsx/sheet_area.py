"""Bound a worksheet's used area before calamine reads it.

calamine allocates the whole rectangle between its first and last non-empty cells at once and aborts
the process when that allocation fails (tafia/calamine#693): a 2 KB sheet with values in A1 and
XFD1048576 asks for 550 GB. So the sheet XML is scanned first, in three steps that each run only when
the one before cannot clear the sheet:

1. a bound from the longest references, with C-speed searches on each inflated chunk. A chunk in
   which every cell and row tag is spelt `<c r="` / `<row r="` (what Excel, LibreOffice and most
   libraries write) costs three literal-prefix searches and one search for a longer reference (of
   a cell that is not self-closed); any other chunk (implied positions, prefixes, other quoting) is
   replayed tag by tag (`cell_positions.CellPlacer`);
2. the exact largest row and column among those references;
3. calamine's own rule: the rectangle of the cells that hold a value (styled empty cells and
   formulas without a cached value are not data, so a sheet whose styles reach XFD1048576 passes).

Chunks are cut just before their last `<`, so no tag is ever split or seen twice.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from handlers.common.errors import UnsafeFile
from handlers.xlsx.cell_positions import CellPlacer, reference

CHUNK = 4 * 1024 * 1024
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")  # a namespace-prefixed cell or row tag, as in <x:c>
# A cell or row tag not spelt `<c r="` / `<row r="` (its position implied, or `r` later or quoted
# otherwise); each is searched on its own because a literal prefix keeps the regex at C speed.
_ODD_CELL = re.compile(rb'<c(?=[\s/>])(?! r=")')
_ODD_ROW = re.compile(rb'<row(?=[\s/>])(?! r=")')
# A reference with more letters or digits than given (simple, so that each new pair compiles fast).
_LONGER = rb'<c r="(?=[A-Za-z]{%d}|[A-Za-z]+[0-9]{%d})([A-Za-z]+)([0-9]+)"'
_ATTRS = rb"""(?:[^>"']|"[^"]*"|'[^']*')*"""  # a tag's attributes, quotes respected
_TAG_REST = re.compile(_ATTRS + rb">")
_SELF_CLOSED_CELLS = re.compile(rb'(?:<c r="[^"]*"[^>]*/>\s*)+')  # in runs: one cut per run
_WINDOW = 64 * 1024
_LONG_RUN = 16  # self-closed cells per run, on average, for a styled area
_STYLED_ENOUGH = 64  # self-closed cells with long references passed over one by one before switching
_ROW_START = b'<row r="'
_CELL_START = b'<c r="'


def _spelt_plainly(chunk: bytes) -> bool:
    """Whether every cell and row tag of the chunk is spelt `<c r="` / `<row r="` (no prefix).

    Three searches with literal prefixes, each at C speed (bytes.count was measured slower here).
    """
    return _ODD_CELL.search(chunk) is None and _ODD_ROW.search(chunk) is None and _PREFIXED.search(chunk) is None


def _in_long_runs(chunk: bytes) -> bool:
    """Whether the self-closed cells at the start of `chunk` come in long runs (a styled area).

    Cutting them out (re.sub) is fastest when they come by the hundred; when they sit between
    valued cells, skipping each inside the search is (the sub would cut at every one).
    """
    window = chunk[:_WINDOW]
    runs = len(_SELF_CLOSED_CELLS.findall(window))
    return runs > 0 and window.count(b"/>") >= runs * _LONG_RUN


def _columns(letters: int) -> int:
    """How many columns references of up to `letters` letters can name (26, 702, 18,278...)."""
    return sum(26**k for k in range(1, letters + 1))


@dataclass(slots=True)
class _Bound:
    """Step 1: the longest references of the plain chunks, and exact positions from the others."""

    letters: int = 1
    digits: int = 1
    odd: CellPlacer | None = None
    placer_row: int = 0  # the current row and column where a plain chunk ends, for an odd chunk next
    placer_col: int = 0

    def feed(self, chunk: bytes) -> None:
        if _spelt_plainly(chunk):
            # Styled empty cells (`<c r="XFD9" s="3"/>`) hold no value: a sheet formatted out to
            # XFD1048576 is cleared in this one pass once they are cut out (in runs, at C speed).
            # Only here: where a cell's position is implied, the cells before it place it.
            self._note_longest(chunk)
            self._track_position(chunk)
            return
        if self.odd is None:
            self.odd = CellPlacer(valued_only=False)
        self.odd.row, self.odd.col = self.placer_row, self.placer_col
        self.odd.feed(chunk)
        self.placer_row, self.placer_col = self.odd.row, self.odd.col

    def area(self) -> int:
        rows, cols = int("9" * self.digits), _columns(self.letters)
        if self.odd is not None and self.odd.cells:
            rows, cols = max(rows, self.odd.last_row + 1), max(cols, self.odd.last_col + 1)
        return rows * cols

    def _note_longest(self, chunk: bytes) -> None:
        """Note the most letters and digits of any valued cell's reference (plain chunks: all `<c r="`).

        One search finds the next reference longer than any seen so far; on a normal sheet it fails
        after a few hits, so each chunk is scanned about once. Self-closed cells (styled, empty) hold no
        value and are passed over; where they keep turning up, as in a sheet formatted out to
        XFD1048576, the rest of the chunk is cleared of them in one C-speed substitution.
        (Folding letters and digits with bytes.translate and using `find` was measured slower.)
        """
        position, passed_over = 0, 0
        while match := self._pattern().search(chunk, position):
            rest = _TAG_REST.match(chunk, match.end())
            if rest is not None and rest[0].endswith(b"/>"):
                passed_over += 1
                if passed_over == _STYLED_ENOUGH:
                    chunk, position = chunk[match.start() :], 0
                    if not _in_long_runs(chunk):
                        self._note_longest_in_c(chunk)
                        return
                    chunk = _SELF_CLOSED_CELLS.sub(b"", chunk)
                else:
                    position = match.end()
                continue
            self.letters = max(self.letters, len(match[1]))
            self.digits = max(self.digits, len(match[2]))
            position = match.start() + 1

    def _pattern(self) -> re.Pattern[bytes]:
        return re.compile(_LONGER % (self.letters + 1, self.digits + 1))

    def _note_longest_in_c(self, chunk: bytes) -> None:
        """As _note_longest, with self-closed cells passed over inside the regex (styled cells here and there)."""
        position = 0
        pattern = _LONGER + rb"(?=" + _ATTRS + rb"(?<!/)>)"
        while match := re.compile(pattern % (self.letters + 1, self.digits + 1)).search(chunk, position):
            self.letters = max(self.letters, len(match[1]))
            self.digits = max(self.digits, len(match[2]))
            position = match.start() + 1

    def _track_position(self, chunk: bytes) -> None:
        """Where calamine's current row and column stand after a plain chunk (only positions matter)."""
        row_at, closed_at = chunk.rfind(_ROW_START), chunk.rfind(b"</row>")
        if row_at >= 0:
            end = chunk.find(b">", row_at)
            place = reference(chunk[row_at + len(_ROW_START) : chunk.find(b'"', row_at + len(_ROW_START))])
            self.placer_row = place[0] if place else self.placer_row
            if closed_at > row_at or chunk[end - 1 : end] == b"/":
                self.placer_row, self.placer_col = self.placer_row + 1, 0
                return
        elif closed_at >= 0:
            self.placer_row, self.placer_col = self.placer_row + chunk.count(b"</row>"), 0
            return
        cell_at = chunk.rfind(_CELL_START)
        if row_at > cell_at:
            self.placer_col = 0  # a row has started and has no cell yet
        elif cell_at >= 0:
            start = cell_at + len(_CELL_START)
            place = reference(chunk[start : chunk.find(b'"', start)])
            self.placer_col = place[1] + 1 if place else self.placer_col


def check_sheet_area(archive: zipfile.ZipFile, part: str, sheet: str, max_cells: int, *, chunk: int = CHUNK) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for `sheet`."""
    bound = _Bound()
    _stream(archive, part, bound.feed, chunk)
    if bound.area() <= max_cells:
        return
    if bound.odd is None and _exact_maxima(archive, part, bound, chunk) <= max_cells:
        return
    placer = CellPlacer(valued_only=True)
    _stream(archive, part, placer.feed, chunk)
    if placer.area > max_cells:
        rows, cols = placer.last_row - placer.first_row + 1, placer.last_col - placer.first_col + 1
        raise UnsafeFile(
            f"sheet {sheet!r} spans {rows:,} rows x {cols:,} columns, more than the limit of "
            f"{max_cells:,} cells; delete the far-away cells or split the sheet"
        )


def _exact_maxima(archive: zipfile.ZipFile, part: str, bound: _Bound, chunk: int) -> int:
    """Step 2: rows x columns up to the largest row and column among references of the longest kinds."""
    row_refs = re.compile(rb'<c r="[A-Za-z]+([0-9]{%d})"' % bound.digits)
    col_refs = re.compile(rb'<c r="([A-Za-z]{%d})[0-9]' % bound.letters)
    best = [b"", b""]

    def feed(data: bytes) -> None:
        # References of equal length compare like their values, so bytes max() is enough.
        best[0] = max(best[0], *row_refs.findall(data), b"")
        best[1] = max(best[1], *(ref.upper() for ref in col_refs.findall(data)), b"")

    _stream(archive, part, feed, chunk)
    place = reference(best[1] + (best[0] or b"1"))
    return (place[0] + 1) * (place[1] + 1) if place else 0


def _stream(archive: zipfile.ZipFile, part: str, feed: Callable[[bytes], None], chunk: int) -> None:
    for piece in xml_chunks(archive, part, chunk):
        feed(piece)


def xml_chunks(archive: zipfile.ZipFile, part: str, size: int = CHUNK) -> Iterator[bytes]:
    """The inflated part in pieces, each cut just before its last `<` (the rest starts the next)."""
    pending: list[bytes] = []
    with archive.open(part) as source:
        while block := source.read(size):
            cut = block.rfind(b"<")
            if cut < 0:  # inside one long text or tag: nowhere to cut yet
                pending.append(block)
                continue
            head = b"".join((*pending, block[:cut])) if pending else block[:cut]
            pending = [block[cut:]]
            if head:
                yield head
    if pending:
        yield b"".join(pending)
