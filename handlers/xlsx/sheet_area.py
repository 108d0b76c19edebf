"""Bound a worksheet's used area before calamine reads it.

calamine allocates the whole rectangle between its first and last non-empty cells at once and aborts
the process when that allocation fails (tafia/calamine#693): a 2 KB sheet with values in A1 and
XFD1048576 asks for 550 GB. So the sheet XML is scanned first, in three steps that each run only when
the one before cannot clear the sheet:

1. a bound from the longest references, while every cell carries its own (`<c r="B7"`: what Excel,
   LibreOffice and most libraries write; rows then place nothing). Per inflated chunk that costs two
   regex searches: one for a prefixed cell tag, one for a cell tag that is not `<c r="` with a
   reference as short as the longest seen so far (a longer one, of a cell that is not self-closed,
   raises the bound); the C accelerator (_cell_scan.c) does the same in one pass, 3-8x faster. A cell
   placed any other way (implied by the cells and rows before it, `r` later or quoted otherwise, a
   prefix) sends the sheet straight to step 3;
2. the exact largest row and column among those references;
3. calamine's own rule: the rectangle of the cells that hold a value (styled empty cells and
   formulas without a cached value are not data, so a sheet whose styles reach XFD1048576 passes).

Chunks are cut just before their last `<`, so no tag is ever split or seen twice.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from handlers.common.errors import UnsafeFile
from handlers.xlsx import native
from handlers.xlsx.cell_positions import CellPlacer, reference
from handlers.xlsx.part_chunks import CHUNK, xml_chunks

# xml_chunks moved to part_chunks; it stays importable from here for handlers/xlsx/images/in_cell.py.
__all__ = ["CHUNK", "check_sheet_area", "xml_chunks"]

# A namespace-prefixed cell tag, as in <x:c>: calamine matches elements by local name.
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
# One search finds every cell tag that is not `<c r="` with a reference of at most the letters and
# digits given: a longer reference, or a cell placed some other way (no `r`, `r` later or quoted
# otherwise), which sends the whole sheet to the exact replay. One pass with a literal prefix, at C speed.
_NOT_SHORT = rb'<c(?=[\s/>])(?! r="[A-Za-z]{1,%d}[0-9]{1,%d}")'
# ... nor a self-closed cell spelt plainly (` name="value"` attributes): a styled empty cell holds no
# value, and a sheet formatted out to XFD1048576 has a million of them, passed over inside the search.
_NOT_SELF_CLOSED = rb'(?! r="[^"]*"(?: [\w:.-]+="[^"]*")*/>)'
_PLAIN_REFERENCE = re.compile(rb'<c r="([A-Za-z]+)([0-9]+)"')
_ATTRS = rb"""(?:[^>"']|"[^"]*"|'[^']*')*"""  # a tag's attributes, quotes respected
_TAG_REST = re.compile(_ATTRS + rb">")


def _columns(letters: int) -> int:
    """How many columns references of up to `letters` letters can name (26, 702, 18,278...)."""
    return sum(26**k for k in range(1, letters + 1))


@dataclass(slots=True)
class _Bound:
    """Step 1: the most letters and digits of any valued cell's reference, while every cell has its own."""

    letters: int = 1
    digits: int = 1
    odd: bool = False  # a cell placed by the cells and rows before it, or prefixed: replay exactly

    def feed(self, chunk: bytes) -> None:
        if self.odd:
            return
        if native.scan_cells is None:
            self.python_feed(chunk)
        else:  # the same scan in C: the regex engine costs ~100 ns per cell tag
            self.letters, self.digits, self.odd = native.scan_cells(chunk, self.letters, self.digits)

    def python_feed(self, chunk: bytes) -> None:
        """`feed` in Python: the reference of the C scan (_cell_scan.c), and its fallback when not built."""
        # Where every cell carries its own reference, rows place nothing: only cells are looked at.
        if _PREFIXED_CELL.search(chunk) is not None:
            self.odd = True
            return
        self._note_longest(chunk)

    def area(self) -> int:
        return int("9" * self.digits) * _columns(self.letters)

    def _note_longest(self, chunk: bytes) -> None:
        """Note the longest valued references; stop at a cell that does not carry its own.

        One search finds the next cell that is not plainly spelt with a reference as short as those
        seen so far, passing over self-closed cells (styled, empty: no value); on a normal sheet it
        fails after a few hits, so each chunk is scanned about once.
        """
        position = 0
        pattern = self._pattern()
        while match := pattern.search(chunk, position):
            reference = _PLAIN_REFERENCE.match(chunk, match.start())
            if reference is None:
                if chunk.startswith(b'<c r="', match.start()):
                    position = match.start() + 1  # not a reference calamine reads: it refuses the sheet
                    continue
                self.odd = True
                return
            position = reference.end()
            rest = _TAG_REST.match(chunk, position)
            if rest is not None and rest[0].endswith(b"/>"):
                continue  # self-closed, its attributes spelt otherwise: no value either
            self.letters = max(self.letters, len(reference[1]))
            self.digits = max(self.digits, len(reference[2]))
            pattern = self._pattern()

    def _pattern(self) -> re.Pattern[bytes]:
        if self.letters <= len(_COMMON) and self.digits <= len(_COMMON[0]):
            return _COMMON[self.letters - 1][self.digits - 1]
        return _not_short(self.letters, self.digits)


def _not_short(letters: int, digits: int) -> re.Pattern[bytes]:
    return re.compile((_NOT_SHORT + _NOT_SELF_CLOSED) % (letters, digits))


# The patterns of the lengths real sheets have (up to XFD and row 9,999,999), compiled once per
# worker at import rather than in a job (a few compiles were 1-2 ms of a 10 ms extract).
_COMMON = tuple(tuple(_not_short(letters, digits) for digits in range(1, 8)) for letters in range(1, 4))


def check_sheet_area(archive: zipfile.ZipFile, part: str, sheet: str, max_cells: int, *, chunk: int = CHUNK) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for `sheet`."""
    bound = _Bound()
    _stream(archive, part, bound.feed, chunk)
    if not bound.odd and (bound.area() <= max_cells or _exact_maxima(archive, part, bound, chunk) <= max_cells):
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
