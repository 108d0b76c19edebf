"""The operations of an update, parsed from the payload; each error names the field."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.common.errors import PayloadError
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
    operations = [_parse(require_mapping(item, f"updates[{i}]"), f"updates[{i}]") for i, item in enumerate(items)]
    created: dict[str, tuple[int, str]] = {}
    for index, operation in enumerate(operations):
        if isinstance(operation, CreateSheet):
            earlier = created.setdefault(operation.name.casefold(), (index, operation.name))
            if earlier[0] != index:
                raise PayloadError(
                    f"updates[{index}].create_sheet: {operation.name!r} is the same sheet name as "
                    f"{earlier[1]!r} in updates[{earlier[0]}]: Excel sheet names ignore case"
                )
    return operations


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
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(f"{field}: {value} is not a number Excel can store")
    return value
