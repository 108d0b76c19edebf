"""Bound a worksheet's used area before calamine reads it.

calamine allocates the whole rectangle between the first and the last cell at once and aborts the
process when that allocation fails (tafia/calamine#693): a 2 KB sheet with cells A1 and XFD1048576
asks for 550 GB. So the sheet XML is scanned first for its largest cell reference. The scan uses only
C-speed regex searches on inflated chunks: it must not cost a large share of the read it protects.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass

from handlers.common.errors import UnsafeFile
from handlers.xlsx.cells import MAX_COLUMN, MAX_ROW, column_index

_CHUNK = 4 * 1024 * 1024
_OVERLAP = 64  # longer than any cell tag start, so a reference split between chunks is still seen
_COLUMNS_FOR_LETTERS = {1: 26, 2: 702, 3: MAX_COLUMN}
# A cell element whose position is implicit, or hidden behind a namespace prefix or other quoting,
# which the fast search below does not read; only counted, in the chunks that contain one.
_ODD_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c(?:[/>]|\s+(?!r=\"[A-Z]))")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


@dataclass(slots=True)
class _Scan:
    letters: int = 1  # most letters seen in a cell reference's column
    digits: int = 1  # most digits seen in a cell reference's row
    odd_cells: int = 0
    rows: int = 0

    def feed(self, chunk: bytes) -> None:
        # One search finds the next reference longer than any seen so far, or an odd cell; on a
        # normal sheet it fails after a few hits, so each chunk is scanned about once.
        position = 0
        while match := self._pattern().search(chunk, position):
            if match[1] is None:
                self._count_odd(chunk)
                break
            self.letters = max(self.letters, len(match[1]))
            self.digits = max(self.digits, len(match[2]))
            position = match.start()
        if b":c" in chunk:  # a namespace-prefixed cell, as in <x:c>
            self._count_odd(chunk)

    def _pattern(self) -> re.Pattern[bytes]:
        longer = rb'<c(?: r="(?=[A-Z]{%d}|[A-Z]+[0-9]{%d})([A-Z]+)([0-9]+)"|[/>\t\r\n]| (?!r="))'
        return re.compile(longer % (self.letters + 1, self.digits + 1))

    def _count_odd(self, chunk: bytes) -> None:
        self.odd_cells += len(_ODD_CELL.findall(chunk))
        self.rows += len(_ROW_TAG.findall(chunk))


def check_sheet_area(archive: zipfile.ZipFile, part: str, sheet: str, max_cells: int) -> None:
    """Raise UnsafeFile when the used area of `sheet` may exceed `max_cells` cells."""
    scan = _Scan()
    _stream(archive, part, scan.feed)
    rows = min(10**scan.digits - 1, MAX_ROW)
    cols = _COLUMNS_FOR_LETTERS[scan.letters]
    if rows * cols > max_cells:
        rows, cols = _exact_maxima(archive, part, scan)
    # Cells without a position continue from the previous one, so each can widen the area by one.
    rows, cols = rows + scan.rows, cols + scan.odd_cells
    if rows * cols > max_cells:
        raise UnsafeFile(
            f"sheet {sheet!r} spans up to {rows:,} rows x {cols:,} columns, more than the limit of "
            f"{max_cells:,} cells; delete the far-away cells or split the sheet"
        )


def _exact_maxima(archive: zipfile.ZipFile, part: str, scan: _Scan) -> tuple[int, int]:
    """The largest row and column among references of the longest kinds found by the first pass."""
    row_refs = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{%d})"' % scan.digits)
    col_refs = re.compile(rb'<c r="([A-Z]{%d})[0-9]' % scan.letters)
    best = [b"", b""]

    def feed(chunk: bytes) -> None:
        # References of equal length compare like their values, so bytes max() is enough.
        best[0] = max(best[0], *row_refs.findall(chunk), b"")
        best[1] = max(best[1], *col_refs.findall(chunk), b"")

    _stream(archive, part, feed)
    rows = int(best[0]) if best[0] else 0
    cols = column_index(best[1].decode()) + 1 if best[1] else 0
    return rows, cols


def _stream(archive: zipfile.ZipFile, part: str, feed: object) -> None:
    assert callable(feed)
    tail = b""
    with archive.open(part) as source:
        while block := source.read(_CHUNK):
            feed(tail + block)
            tail = block[-_OVERLAP:]
