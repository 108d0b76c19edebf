"""Turn the operations of a payload, in order, into what each sheet part must change.

Nothing is written here: writes are collected per sheet (a later write to a cell replaces an earlier
one), table growth is planned, and the few facts the plan needs from a sheet (its last row holding a
value) are read by a streaming scan. `handlers.xlsx.update.sheet` then rewrites each sheet once.
"""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from handlers.common.errors import TableNotFound, UpdateFailed
from handlers.xlsx.cells import MAX_ROW, Cell, CellRange
from handlers.xlsx.update.cells import date_serial, number_value
from handlers.xlsx.update.operations import CreateSheet, Operation, SetBlock, SetCell
from handlers.xlsx.update.rows import CHUNK, Row, SheetReader
from handlers.xlsx.update.tables import Table, sheet_tables
from handlers.xlsx.update.workbook import Sheet, Workbook

Position = tuple[int, int]  # 0-based (row, column)


@dataclass(frozen=True, slots=True)
class Write:
    """What one cell becomes; `date` is None or whether the date has a time of day."""

    value: Any
    formula: bool = False
    date: bool | None = None
    style_from: Position | None = None  # a cell whose style the new cell takes (a table's last record)


@dataclass(frozen=True, slots=True)
class Region:
    """Cells that must hold no value for a table to grow into them."""

    rows: range
    cols: range
    table: str


@dataclass(slots=True)
class SheetPlan:
    """Everything the update changes in one sheet part."""

    sheet: Sheet
    writes: dict[Position, Write] = field(default_factory=dict)
    moves: dict[Position, int] = field(default_factory=dict)  # cell -> the row it moves to
    must_be_empty: list[Region] = field(default_factory=list)
    tables: list[Table] | None = None
    last_value_row: int | None = None

    def touched_rows(self) -> set[int]:
        """The 0-based rows whose XML changes."""
        rows = {row for row, _ in self.writes}
        rows.update(row for row, _ in self.moves)
        rows.update(self.moves.values())
        return rows

    def bounds(self) -> CellRange | None:
        """The rectangle of every cell written or moved into."""
        cells = list(self.writes) + [(row, col) for (_, col), row in self.moves.items()]
        if not cells:
            return None
        rows, cols = [c[0] for c in cells], [c[1] for c in cells]
        return CellRange(Cell(min(rows), min(cols)), Cell(max(rows), max(cols)))


def open_sheet(archive: zipfile.ZipFile, book: Workbook, sheet: Sheet) -> SheetReader:
    """A streaming reader of a sheet part (or of the empty sheet a new one starts as)."""
    return SheetReader(_chunks(archive, book, sheet), sheet.part)


def _chunks(archive: zipfile.ZipFile, book: Workbook, sheet: Sheet) -> Iterator[bytes]:
    if sheet.new:
        yield book.empty_sheet()
        return
    with archive.open(sheet.part) as part:
        while chunk := part.read(CHUNK):
            yield chunk


class Planner:
    """Collects the plan of an update, one operation at a time."""

    def __init__(self, archive: zipfile.ZipFile, book: Workbook) -> None:
        self.archive = archive
        self.book = book
        self.plans: dict[str, SheetPlan] = {}

    def plan(self, name: str) -> SheetPlan:
        """The plan of the sheet with that name (matched ignoring case)."""
        sheet = self.book.find(name)
        return self.plans.setdefault(sheet.part, SheetPlan(sheet))

    def apply(self, operation: Operation) -> None:
        """Add one operation to the plan."""
        if isinstance(operation, CreateSheet):
            self.book.add_sheet(operation.name)
            return
        plan = self.plan(operation.sheet)
        if isinstance(operation, SetCell):
            self._write(plan, operation.cell.row, operation.cell.col, operation.value, operation.is_formula)
        elif isinstance(operation, SetBlock):
            for r, values in enumerate(operation.values):
                for c, value in enumerate(values):
                    self._write(plan, operation.anchor.row + r, operation.anchor.col + c, value)
        elif operation.table is None:
            first = self._last_value_row(plan) + 1
            for r, values in enumerate(operation.rows):
                for c, value in enumerate(values):
                    self._write(plan, first + r, c, value)
        else:
            self._append_to_table(plan, operation.table, operation.rows)

    def _write(
        self, plan: SheetPlan, row: int, col: int, value: Any, formula: bool = False, style: Position | None = None
    ) -> None:
        if row >= MAX_ROW:
            raise UpdateFailed(f"sheet {plan.sheet.name!r} has no room below row {MAX_ROW}")
        if isinstance(value, datetime.datetime):
            serial = date_serial(value, self.book.date1904)
            plan.writes[row, col] = Write(number_value(serial), date=not serial.is_integer(), style_from=style)
        else:
            plan.writes[row, col] = Write(value, formula=formula, style_from=style)

    def _last_value_row(self, plan: SheetPlan) -> int:
        if plan.last_value_row is None:
            last = open_sheet(self.archive, self.book, plan.sheet).last_value_row_fast()
            if last is None:  # not certain from the end alone: count every row
                last = 0
                for piece in open_sheet(self.archive, self.book, plan.sheet).rows_after_head():
                    if isinstance(piece, Row) and piece.has_value:
                        last = piece.number
            plan.last_value_row = last - 1
        written = [row for (row, _), write in plan.writes.items() if write.value is not None]
        moved = list(plan.moves.values())
        return max([plan.last_value_row, *written, *moved])

    def _append_to_table(self, plan: SheetPlan, name: str, rows: list[list[Any]]) -> None:
        if plan.tables is None:
            plan.tables = [] if plan.sheet.new else sheet_tables(self.archive, plan.sheet.part)
        table = next((t for t in plan.tables if t.name.casefold() == name.casefold()), None)
        if table is None:
            names = ", ".join(repr(t.name) for t in plan.tables) or "none"
            raise TableNotFound(f"table {name!r} not found on sheet {plan.sheet.name!r}; it has: {names}"[:300])
        cols = range(table.area.first.col, table.area.last.col + 1)
        for values in rows:
            if len(values) > len(cols):
                raise UpdateFailed(
                    f"a row for table {table.name!r} has {len(values)} values; the table has {len(cols)} columns"
                )
        below = range(table.area.last.row + 1, table.area.last.row + 1 + len(rows))
        for (row, col), write in plan.writes.items():
            if row in below and col in cols and write.value is not None:
                raise UpdateFailed(f"cannot extend table {table.name!r}: row {row + 1} below it is not empty")
        plan.must_be_empty.append(Region(below, cols, table.name))
        first = table.totals_row
        for offset in range(table.totals_rows):
            self._move_row(plan, first + offset, first + offset + len(rows), cols)
        last_record = first - 1 if first - 1 >= table.first_record_row else None
        for r, values in enumerate(rows):
            for c in cols:
                value = values[c - cols.start] if c - cols.start < len(values) else None
                self._write(plan, first + r, c, value, style=_style_source(plan, last_record, c))
        table.grow(len(rows))

    def _move_row(self, plan: SheetPlan, row: int, to: int, cols: range) -> None:
        """Plan the cells of `row` (where the plan has them now) to move down to `to`."""
        for col in cols:
            source = next((src for src, dest in plan.moves.items() if dest == row and src[1] == col), (row, col))
            plan.moves[source] = to


def _style_source(plan: SheetPlan, row: int | None, col: int) -> Position | None:
    if row is None:
        return None
    earlier = plan.writes.get((row, col))
    if earlier is not None and earlier.style_from is not None:
        return earlier.style_from
    return row, col
