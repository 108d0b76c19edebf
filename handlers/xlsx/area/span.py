"""The rectangle calamine allocates for a sheet's cells, and the refusal when it is too large.

calamine builds a sheet's values with `Range::from_sparse` over the cells it read, in reading order:
its rows run from the FIRST cell's row to the LAST cell's row (u32 arithmetic, which wraps in a
release build when a hostile file puts a far row before a near one), its columns from the smallest
to the largest column. That rectangle is allocated at once, whatever it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.common.errors import UnsafeFile

_U32 = 1 << 32


@dataclass(slots=True)
class SparseSpan:
    """The cells of one sheet as calamine reads them, kept as the bounds `from_sparse` takes."""

    first_row: int = -1  # -1: no cell yet
    last_row: int = 0
    first_col: int = 0
    last_col: int = 0
    # A cell that calamine may or may not keep (an .xls shared string that may be empty) is counted
    # as kept. That can only widen the rectangle while rows come in order; once they do not, its
    # first and last rows could be any of the cells', so the span is taken as calamine's widest.
    maybe_kept: bool = False
    unordered: bool = False

    def add(self, row: int, col: int, last_col: int | None = None, *, certain: bool = True) -> None:
        """Note a cell (or a run of cells of one row from `col` to `last_col`) read at `row`."""
        end = col if last_col is None else last_col
        if self.first_row < 0:
            self.first_row, self.first_col, self.last_col = row, col, end
        else:
            self.first_col, self.last_col = min(self.first_col, col), max(self.last_col, end)
            self.unordered = self.unordered or row < self.last_row
        self.last_row = row
        self.maybe_kept = self.maybe_kept or not certain

    @property
    def rows(self) -> int:
        if self.first_row < 0:
            return 0
        if self.maybe_kept and self.unordered:
            return _U32
        return (self.last_row - self.first_row + 1) % _U32

    @property
    def cols(self) -> int:
        return 0 if self.first_row < 0 else self.last_col - self.first_col + 1

    @property
    def area(self) -> int:
        return self.rows * self.cols


def refuse_if_larger(sheet: str, rows: int, cols: int, max_cells: int) -> None:
    """Raise UnsafeFile, in the words of the .xlsx check, when rows x columns exceeds `max_cells`."""
    if rows * cols > max_cells:
        raise UnsafeFile(
            f"sheet {sheet!r} spans {rows:,} rows x {cols:,} columns, more than the limit of "
            f"{max_cells:,} cells; delete the far-away cells or split the sheet"
        )
