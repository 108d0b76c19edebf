"""A worksheet's values as read by calamine, with merged cells resolved to their top-left value."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from python_calamine import CalamineWorkbook

from handlers.xlsx.cells import Cell, CellRange, JsonValue, to_json
from handlers.xlsx.formats import calamine_call
from handlers.xlsx.rules import normalise_label

_A1 = Cell(0, 0)


class Grid:
    """A sheet's raw calamine values over its used rectangle (from `origin`), and its merged ranges."""

    def __init__(self, rows: list[list[Any]], merged: Iterable[CellRange] = (), origin: Cell | None = None) -> None:
        self.rows = rows
        self.merged = list(merged)
        self.origin = origin or _A1
        self.height = len(rows)
        self.width = max(map(len, rows), default=0)
        self.rectangular = min(map(len, rows), default=0) == self.width  # as calamine's rows are

    @classmethod
    def read(cls, workbook: CalamineWorkbook, sheet: str) -> Grid:
        """Read every value of `sheet`; the calamine sheet is dropped as soon as it is copied out."""
        failure = f"sheet {sheet!r} cannot be read"
        source = calamine_call(lambda: workbook.get_sheet_by_name(sheet), failure)
        spans = calamine_call(lambda: source.merged_cell_ranges, failure) or ()
        merged = [CellRange(Cell(*first), Cell(*last)) for first, last in spans]
        # Only the used rectangle (calamine's own allocation), placed by its start: a sheet whose
        # data starts at row 5,000 costs nothing for the empty rows above it.
        rows = calamine_call(lambda: source.to_python(skip_empty_area=True), failure)
        start = source.start if rows else None
        return cls(rows, merged, Cell(*start) if start else None)

    @property
    def last(self) -> Cell:
        """The bottom-right cell of the used rectangle (one above/left of the origin when empty)."""
        return Cell(self.origin.row + self.height - 1, self.origin.col + self.width - 1)

    def value(self, cell: Cell) -> JsonValue:
        """The JSON value shown in `cell`: a merged range shows its top-left value in every cell."""
        span = self.merged_span(cell)
        origin = span.first if span else cell
        return to_json(self.raw(origin.row, origin.col))

    def merged_span(self, cell: Cell) -> CellRange | None:
        """The merged range that covers `cell`, if any."""
        for span in self.merged:
            if span.first.row <= cell.row <= span.last.row and span.first.col <= cell.col <= span.last.col:
                return span
        return None

    def raw(self, row: int, col: int) -> Any:
        """calamine's value at a sheet position ("" outside the used rectangle)."""
        row, col = row - self.origin.row, col - self.origin.col
        if 0 <= row < self.height and 0 <= col < len(self.rows[row]):
            return self.rows[row][col]
        return ""

    def raw_cells(self, row: int, first_col: int, last_col: int) -> list[Any]:
        """calamine's values of one row between two columns (inclusive), "" where there is no cell."""
        row -= self.origin.row
        width = last_col - first_col + 1
        if not 0 <= row < self.height:
            return [""] * width
        left, right = first_col - self.origin.col, last_col - self.origin.col + 1
        values = self.rows[row]
        if left == 0 and right == len(values):
            return values  # the whole row: no copy (a whole-sheet table asks for every row so)
        cells = values[max(left, 0) : max(right, 0)]
        before = [""] * min(max(-left, 0), width)
        after = [""] * (width - len(before) - len(cells))
        return before + cells + after if before or after else cells

    def block(self, area: CellRange) -> Iterator[Sequence[Any]]:
        """calamine's values of a rectangle, row by row, merged cells filled in.

        The values are not converted: `cells.records` converts them as it builds the records (and
        leaves blank rows out).
        """
        first, last = area.first, area.last
        spans = [span for span in self.merged if _overlaps(area, span)]
        top, bottom = first.row - self.origin.row, last.row - self.origin.row + 1
        if (
            not spans
            and self.rectangular
            and first.col == self.origin.col
            and last.col == self.last.col
            and 0 <= top <= bottom <= self.height
        ):
            # The whole width (a whole-sheet table): calamine's rows as they are, no step per row.
            yield from islice(self.rows, top, bottom)
            return
        raw = (self.raw_cells(row, first.col, last.col) for row in range(first.row, last.row + 1))
        if not spans:
            # Streamed, and whole rows not copied: a table of a whole big sheet holds no second copy.
            # (Converting column by column with map() was measured slower: transposing costs more.)
            yield from raw
            return
        block = [list(cells) for cells in raw]  # copied: the merged values are written into them
        for span in spans:
            self._fill_merged(block, area, span)
        yield from block

    def find_labels(self, labels: set[str]) -> dict[str, Cell]:
        """The first cell (row by row) whose text matches each normalised label."""
        found: dict[str, Cell] = {}
        top, left = self.origin.row, self.origin.col
        for row_index, row in enumerate(self.rows):
            for col_index, value in enumerate(row):
                if value and type(value) is str:
                    label = normalise_label(value)
                    if label in labels and label not in found:
                        found[label] = Cell(top + row_index, left + col_index)
            if len(found) == len(labels):
                break
        return found

    def used_area(self) -> CellRange | None:
        """The smallest rectangle holding every non-empty cell."""
        # Only the first and last rows with a value are looked for, from each end (list.count runs in
        # C, but comparing a number with "" is slow: counting every row cost a tenth of a big table).
        top = next((index for index, row in enumerate(self.rows) if row.count("") != len(row)), None)
        if top is None:
            return None
        bottom = next(
            index for index in reversed(range(self.height)) if self.rows[index].count("") != len(self.rows[index])
        )
        rows = range(top, bottom + 1)  # blank rows between count for no column

        def used(col: int) -> bool:
            return any(col < len(self.rows[row]) and self.rows[row][col] != "" for row in rows)

        left = next(col for col in range(self.width) if used(col))
        right = next(col for col in reversed(range(self.width)) if used(col))
        top, origin_col = self.origin.row, self.origin.col
        return CellRange(Cell(top + rows[0], origin_col + left), Cell(top + rows[-1], origin_col + right))

    def _fill_merged(self, block: list[list[Any]], area: CellRange, span: CellRange) -> None:
        top, bottom = max(area.first.row, span.first.row), min(area.last.row, span.last.row)
        left, right = max(area.first.col, span.first.col), min(area.last.col, span.last.col)
        origin = self.raw(span.first.row, span.first.col)
        for row in range(top, bottom + 1):
            for col in range(left, right + 1):
                block[row - area.first.row][col - area.first.col] = origin


def _overlaps(area: CellRange, span: CellRange) -> bool:
    return (
        span.first.row <= area.last.row
        and area.first.row <= span.last.row
        and span.first.col <= area.last.col
        and area.first.col <= span.last.col
    )
