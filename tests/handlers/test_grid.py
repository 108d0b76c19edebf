"""The grid's blocks: merged values filled in without touching the grid's own rows."""

from __future__ import annotations

from typing import Any

from handlers.xlsx.cells import Cell, CellRange
from handlers.xlsx.grid import Grid


def test_a_block_fills_merged_cells_and_leaves_the_grid_as_it_was() -> None:
    rows: list[list[Any]] = [["a", "", "c"], [1.0, 2.0, 3.0], ["x", "", ""], [4.0, 5.0, 6.0]]
    before = [list(row) for row in rows]
    merged = [CellRange(Cell(0, 0), Cell(0, 1)), CellRange(Cell(2, 0), Cell(2, 2)), CellRange(Cell(3, 1), Cell(3, 2))]
    grid = Grid(rows, merged)
    whole = CellRange(Cell(0, 0), Cell(3, 2))
    block = list(grid.block(whole))
    assert block == [["a", "a", "c"], [1.0, 2.0, 3.0], ["x", "x", "x"], [4.0, 5.0, 5.0]]
    assert rows == before
    assert list(grid.block(whole)) == block
    assert list(grid.block(CellRange(Cell(2, 1), Cell(3, 2)))) == [["x", "x"], [5.0, 5.0]]
