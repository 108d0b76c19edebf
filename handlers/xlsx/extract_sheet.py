"""Apply a sheet's extraction rules to its grid of values."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from python_calamine import CalamineWorkbook
from python_calamine import TableNotFound as CalamineTableNotFound

from handlers.common.errors import TableNotFound
from handlers.xlsx.cells import Cell, CellRange, JsonValue, column_letters, records, to_json
from handlers.xlsx.grid import Grid
from handlers.xlsx.rules import CellRule, ImagesRule, LabelRule, Rule, TableRule, normalise_label

ImageReader = Callable[[], list[dict[str, Any]]]


def extract_sheet(
    sheet: str, grid: Grid, rules: list[Rule], workbook: CalamineWorkbook, images: ImageReader, notes: list[str]
) -> dict[str, Any]:
    """The `sheets.<sheet>` object: key_value_pairs, tables and images."""
    result: dict[str, Any] = {"key_value_pairs": {}, "tables": [], "images": []}
    if not rules:
        result["tables"] = _default_table(sheet, grid)
        return result
    labels = grid.find_labels({normalise_label(rule.label) for rule in rules if isinstance(rule, LabelRule)})
    for rule in rules:
        if isinstance(rule, CellRule):
            result["key_value_pairs"][rule.key] = grid.value(rule.cell)
        elif isinstance(rule, LabelRule):
            result["key_value_pairs"][rule.key] = _label_value(sheet, grid, rule, labels, notes)
        elif isinstance(rule, TableRule):
            result["tables"].append(_table(sheet, grid, rule, workbook))
        elif isinstance(rule, ImagesRule):
            result["images"] = images()
    return result


def _default_table(sheet: str, grid: Grid) -> list[dict[str, Any]]:
    # A sheet without rules is returned whole, as one table named after the sheet: its first
    # non-empty row gives the headers.
    area = grid.used_area()
    if area is None:
        return []
    area = _with_merged(grid, area)
    return [_records(sheet, grid.block(area), area.first.col)]  # its first row is not blank


def _with_merged(grid: Grid, area: CellRange) -> CellRange:
    """`area` grown to cover the merged ranges that show a value in it (their top-left cell is in it)."""
    first, last = area.first, area.last
    for span in grid.merged:
        corner = span.first
        if (
            first.row <= corner.row <= last.row
            and first.col <= corner.col <= last.col
            and grid.raw(corner.row, corner.col) != ""
        ):
            last = Cell(max(last.row, span.last.row), max(last.col, span.last.col))
    return CellRange(first, last)


def _label_value(sheet: str, grid: Grid, rule: LabelRule, labels: dict[str, Cell], notes: list[str]) -> JsonValue:
    found = labels.get(normalise_label(rule.label))
    if found is None:
        notes.append(f"sheet {sheet!r}: label {rule.label!r} not found, {rule.key!r} is null")
        return None
    # Step over the label's own merged range, so a label merged over B2:C2 is followed by D2.
    span = grid.merged_span(found)
    end = span.last if span else found
    if rule.direction == "right":
        return grid.value(Cell(found.row, end.col + rule.offset))
    return grid.value(Cell(end.row + rule.offset, found.col))


def _table(sheet: str, grid: Grid, rule: TableRule, workbook: CalamineWorkbook) -> dict[str, Any]:
    if rule.range is not None:
        return _records(rule.name, grid.block(rule.range), rule.range.first.col)
    if rule.start is not None:
        return _records(rule.name, grid.block(_extent_from(grid, rule.start)), rule.start.col)
    assert rule.excel_table is not None
    return _excel_table(sheet, grid, rule.name, rule.excel_table, workbook)


def _extent_from(grid: Grid, start: Cell) -> CellRange:
    """Headers run right from `start` to the first empty cell; rows run down to the first blank row."""
    edge = grid.last
    last_col = start.col
    while last_col < edge.col and grid.raw(start.row, last_col + 1) != "":
        last_col += 1
    last_row = start.row
    while last_row < edge.row:
        cells = grid.raw_cells(last_row + 1, start.col, last_col)
        if cells.count("") == len(cells):
            break
        last_row += 1
    return CellRange(start, Cell(last_row, last_col))


def _excel_table(sheet: str, grid: Grid, name: str, table_name: str, workbook: CalamineWorkbook) -> dict[str, Any]:
    try:
        table = workbook.get_table_by_name(table_name)
    except CalamineTableNotFound:
        known = ", ".join(workbook.table_names or []) or "none"
        raise TableNotFound(f"Excel table {table_name!r} not found (tables in the workbook: {known})") from None
    if table.sheet != sheet:
        raise TableNotFound(f"Excel table {table_name!r} is on sheet {table.sheet!r}, not on {sheet!r}")
    headers = _unique_headers(list(table.columns), 0)
    if table.start is None or table.end is None:
        return {"name": name, "headers": headers, "rows": []}
    body = grid.block(CellRange(Cell(*table.start), Cell(*table.end)))
    return {"name": name, "headers": headers, "rows": records(headers, body)}


def _records(name: str, block: Iterator[Sequence[Any]], first_col: int) -> dict[str, Any]:
    # Blank rows are dropped (by records): a table of records has no use for a record of nulls.
    headers = _unique_headers([to_json(value) for value in next(block, ())], first_col)
    return {"name": name, "headers": headers, "rows": records(headers, block)}


def _unique_headers(values: Sequence[JsonValue], first_col: int) -> list[str]:
    """Header texts; an empty header is named after its column letter, a repeated one gets `_2`, `_3`."""
    headers: list[str] = []
    seen: set[str] = set()
    for index, value in enumerate(values):
        text = str(value).strip() if value is not None else ""
        text = text or column_letters(first_col + index)
        candidate, suffix = text, 2
        while candidate in seen:
            candidate, suffix = f"{text}_{suffix}", suffix + 1
        seen.add(candidate)
        headers.append(candidate)
    return headers
