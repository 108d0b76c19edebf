"""A worksheet's values as read by calamine, with merged cells resolved to their top-left value."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from python_calamine import CalamineWorkbook

from handlers.xlsx.cells import Cell, CellRange, JsonValue, row_to_json, to_json
from handlers.xlsx.rules import normalise_label


class Grid:
    """A sheet's raw calamine values from A1, and its merged ranges."""

    def __init__(self, rows: list[list[Any]], merged: Iterable[CellRange] = ()) -> None:
        self.rows = rows
        self.merged = list(merged)
        self.height = len(rows)
        self.width = len(rows[0]) if rows else 0

    @classmethod
    def read(cls, workbook: CalamineWorkbook, sheet: str) -> Grid:
        """Read every value of `sheet`; the calamine sheet is dropped as soon as it is copied out."""
        source = workbook.get_sheet_by_name(sheet)
        merged = [CellRange(Cell(*first), Cell(*last)) for first, last in source.merged_cell_ranges or ()]
        # skip_empty_area=False keeps rows[r][c] at the sheet's own coordinates.
        return cls(source.to_python(skip_empty_area=False), merged)

    def value(self, cell: Cell) -> JsonValue:
        """The JSON value shown in `cell`: a merged range shows its top-left value in every cell."""
        span = self.merged_span(cell)
        origin = span.first if span else cell
        return to_json(self._raw(origin.row, origin.col))

    def merged_span(self, cell: Cell) -> CellRange | None:
        """The merged range that covers `cell`, if any."""
        for span in self.merged:
            if span.first.row <= cell.row <= span.last.row and span.first.col <= cell.col <= span.last.col:
                return span
        return None

    def block(self, area: CellRange) -> Iterator[list[JsonValue]]:
        """The JSON values of a rectangle, row by row, merged cells filled in."""
        first, last = area.first, area.last
        padding: list[Any] = [""] * (last.col - first.col + 1)
        rows = (
            row_to_json(raw + padding[len(raw) :])
            for raw in (
                self.rows[row][first.col : last.col + 1] if row < self.height else []
                for row in range(first.row, last.row + 1)
            )
        )
        spans = [span for span in self.merged if _overlaps(area, span)]
        if not spans:
            # Streamed: a table of a whole big sheet never holds a second copy of the sheet.
            yield from rows
            return
        block = list(rows)
        for span in spans:
            self._fill_merged(block, area, span)
        yield from block

    def find_labels(self, labels: set[str]) -> dict[str, Cell]:
        """The first cell (row by row) whose text matches each normalised label."""
        found: dict[str, Cell] = {}
        for row_index, row in enumerate(self.rows):
            for col_index, value in enumerate(row):
                if value and type(value) is str:
                    label = normalise_label(value)
                    if label in labels and label not in found:
                        found[label] = Cell(row_index, col_index)
            if len(found) == len(labels):
                break
        return found

    def used_area(self) -> CellRange | None:
        """The smallest rectangle holding every non-empty cell."""
        # list.count runs in C: this stays cheap on a sheet of millions of cells.
        rows = [index for index, row in enumerate(self.rows) if row.count("") != len(row)]
        if not rows:
            return None

        def used(col: int) -> bool:
            return any(self.rows[row][col] != "" for row in rows)

        left = next(col for col in range(self.width) if used(col))
        right = next(col for col in reversed(range(self.width)) if used(col))
        return CellRange(Cell(rows[0], left), Cell(rows[-1], right))

    def _raw(self, row: int, col: int) -> Any:
        if row < self.height and col < self.width:
            return self.rows[row][col]
        return ""

    def _fill_merged(self, block: list[list[JsonValue]], area: CellRange, span: CellRange) -> None:
        top, bottom = max(area.first.row, span.first.row), min(area.last.row, span.last.row)
        left, right = max(area.first.col, span.first.col), min(area.last.col, span.last.col)
        origin = to_json(self._raw(span.first.row, span.first.col))
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
