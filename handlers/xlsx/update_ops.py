"""The operations of an update, parsed from the payload and applied to an openpyxl workbook."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openpyxl.utils.cell import range_boundaries

from handlers.common.errors import PayloadError, SheetNotFound, TableNotFound, UpdateFailed
from handlers.common.payload import check_keys, require_list, require_mapping, require_str
from handlers.xlsx.cells import Cell, parse_cell

_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class SetCell:
    """`{"sheet", "cell", "value" | "formula", "type"?}`."""

    sheet: str
    cell: Cell
    value: Any
    is_formula: bool = False


@dataclass(frozen=True, slots=True)
class SetBlock:
    """`{"sheet", "anchor", "values": [[...]]}`: rows of values written from the anchor cell."""

    sheet: str
    anchor: Cell
    values: list[list[Any]]


@dataclass(frozen=True, slots=True)
class AppendRows:
    """`{"sheet", "append_rows": [[...]], "table"?}`: rows after the sheet's (or the table's) last row."""

    sheet: str
    rows: list[list[Any]]
    table: str | None


@dataclass(frozen=True, slots=True)
class CreateSheet:
    """`{"create_sheet": "Name"}`."""

    name: str


Operation = SetCell | SetBlock | AppendRows | CreateSheet


def parse_updates(value: object) -> list[Operation]:
    """Parse the `updates` list; each error names its index."""
    items = require_list(value, "updates")
    if not items:
        raise PayloadError("updates: must contain at least one update")
    return [_parse(require_mapping(item, f"updates[{i}]"), f"updates[{i}]") for i, item in enumerate(items)]


def _parse(item: Mapping[str, Any], field: str) -> Operation:
    if "create_sheet" in item:
        check_keys(item, {"create_sheet"}, field)
        name = require_str(item["create_sheet"], f"{field}.create_sheet")
        if len(name) > 31 or any(char in name for char in "[]:*?/\\"):
            raise PayloadError(f"{field}.create_sheet: {name!r} is not a valid sheet name")
        return CreateSheet(name)
    sheet = require_str(item.get("sheet"), f"{field}.sheet")
    if "cell" in item:
        check_keys(item, {"sheet", "cell", "value", "formula", "type"}, field)
        return _parse_cell(item, sheet, field)
    if "anchor" in item:
        check_keys(item, {"sheet", "anchor", "values"}, field)
        return SetBlock(
            sheet, parse_cell(item["anchor"], f"{field}.anchor"), _rows(item.get("values"), f"{field}.values")
        )
    if "append_rows" in item:
        check_keys(item, {"sheet", "append_rows", "table"}, field)
        table = item.get("table")
        return AppendRows(
            sheet,
            _rows(item["append_rows"], f"{field}.append_rows"),
            None if table is None else require_str(table, f"{field}.table"),
        )
    raise PayloadError(f"{field}: expected one of 'cell', 'anchor', 'append_rows' or 'create_sheet'")


def _parse_cell(item: Mapping[str, Any], sheet: str, field: str) -> SetCell:
    cell = parse_cell(item["cell"], f"{field}.cell")
    if ("value" in item) == ("formula" in item):
        raise PayloadError(f"{field}: give exactly one of 'value' and 'formula'")
    if "formula" in item:
        formula = require_str(item["formula"], f"{field}.formula")
        return SetCell(sheet, cell, formula if formula.startswith("=") else f"={formula}", is_formula=True)
    value = _scalar(item["value"], f"{field}.value")
    kind = item.get("type")
    if kind not in (None, "date"):
        raise PayloadError(f"{field}.type: expected 'date' or nothing, got {kind!r}")
    if kind == "date":
        try:
            value = datetime.datetime.fromisoformat(require_str(value, f"{field}.value"))
        except ValueError:
            raise PayloadError(f"{field}.value: {value!r} is not an ISO 8601 date") from None
    return SetCell(sheet, cell, value)


def _rows(value: object, field: str) -> list[list[Any]]:
    rows = require_list(value, field)
    if not rows:
        raise PayloadError(f"{field}: must contain at least one row")
    return [
        [_scalar(v, f"{field}[{r}][{c}]") for c, v in enumerate(require_list(row, f"{field}[{r}]"))]
        for r, row in enumerate(rows)
    ]


def _scalar(value: object, field: str) -> Any:
    if not isinstance(value, _SCALARS):
        raise PayloadError(f"{field}: expected a string, number, boolean or null")
    return value


def apply(workbook: Any, operation: Operation) -> None:
    """Apply one operation to an openpyxl workbook."""
    if isinstance(operation, CreateSheet):
        if operation.name in workbook.sheetnames:
            raise UpdateFailed(f"sheet {operation.name!r} already exists")
        workbook.create_sheet(operation.name)
        return
    sheet = _sheet(workbook, operation.sheet)
    if isinstance(operation, SetCell):
        write(sheet, operation.cell.row, operation.cell.col, operation.value, formula=operation.is_formula)
    elif isinstance(operation, SetBlock):
        for r, row in enumerate(operation.values):
            for c, value in enumerate(row):
                write(sheet, operation.anchor.row + r, operation.anchor.col + c, value)
    elif operation.table is None:
        first = _last_used_row(sheet) + 1
        for r, row in enumerate(operation.rows):
            for c, value in enumerate(row):
                write(sheet, first + r, c, value)
    else:
        _append_to_table(sheet, operation.table, operation.rows)


def write(sheet: Any, row: int, col: int, value: Any, *, formula: bool = False) -> None:
    """Set one cell's value, keeping its style; text that starts with '=' stays text, not a formula."""
    cell = sheet.cell(row=row + 1, column=col + 1)
    cell.value = value
    if isinstance(value, str) and not formula and cell.data_type == "f":
        cell.data_type = "s"  # user data must never turn into a formula (formula injection)
    if isinstance(value, datetime.datetime) and not cell.is_date:
        cell.number_format = "yyyy-mm-dd" if value.time() == datetime.time() else "yyyy-mm-dd hh:mm:ss"


def _sheet(workbook: Any, name: str) -> Any:
    if name not in workbook.sheetnames:
        raise SheetNotFound(f"sheet {name!r} not found; the workbook has: {', '.join(map(repr, workbook.sheetnames))}")
    return workbook[name]


def _last_used_row(sheet: Any) -> int:
    """The 0-based index of the last row holding a value (styled empty rows do not count)."""
    for row in range(sheet.max_row, 0, -1):
        if any(cell.value is not None for cell in sheet[row]):
            return row - 1
    return -1


def _append_to_table(sheet: Any, name: str, rows: list[list[Any]]) -> None:
    if name not in sheet.tables:
        raise TableNotFound(
            f"table {name!r} not found on sheet {sheet.title!r}; it has: {', '.join(sheet.tables) or 'none'}"
        )
    table = sheet.tables[name]
    left, _top, right, bottom = range_boundaries(table.ref)
    for offset, values in enumerate(rows, start=1):
        if len(values) > right - left + 1:
            raise UpdateFailed(
                f"a row for table {name!r} has {len(values)} values; the table has {right - left + 1} columns"
            )
        target = bottom + offset
        if any(sheet.cell(row=target, column=col).value is not None for col in range(left, right + 1)):
            raise UpdateFailed(f"cannot extend table {name!r}: row {target} below it is not empty")
        for col in range(left, right + 1):
            source, cell = sheet.cell(row=bottom, column=col), sheet.cell(row=target, column=col)
            cell._style = copy.copy(source._style)  # the new row looks like the table's last row
            value = values[col - left] if col - left < len(values) else None
            write(sheet, target - 1, col - 1, value)
    table.ref = f"{table.ref.split(':')[0]}:{sheet.cell(row=bottom + len(rows), column=right).coordinate}"
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
