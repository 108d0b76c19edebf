"""What a whole-workbook extract should give, computed straight from python-calamine and openpyxl.

The JSON rules of docs/handlers.md are written out again here, independently of the handler, and the
kinds of disagreement between calamine and openpyxl (the "Readers disagree" table of the docs) are
each a named rule: a corpus cell on which the two readers differ must match one of them.
"""

from __future__ import annotations

import datetime
import io
import re
import warnings
from collections.abc import Callable
from typing import Any

import openpyxl
from python_calamine import CalamineWorkbook

Json = None | bool | int | float | str
Grid = dict[tuple[int, int], Any]  # (row, col) -> raw value, empty cells left out

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_EPOCHS = (datetime.datetime(1899, 12, 30), datetime.datetime(1899, 12, 31), datetime.datetime(1904, 1, 1))


def json_value(value: Any) -> Json:
    """The documented JSON of a calamine value."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= 2**53 else value
    if isinstance(value, datetime.timedelta):
        total = value.total_seconds()
        hours, rest = divmod(abs(total), 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{'-' if total < 0 else ''}PT{int(hours)}H{int(minutes)}M{seconds:g}S"
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    assert isinstance(value, bool | int | str), type(value)
    return value


def calamine_grids(data: bytes) -> dict[str, tuple[Grid, list[tuple[tuple[int, int], tuple[int, int]]]]]:
    """Each worksheet's non-empty raw values and merged ranges, as calamine reads them."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    grids = {}
    for meta in book.sheets_metadata:
        if not str(meta.typ).endswith("WorkSheet"):
            continue
        sheet = book.get_sheet_by_name(meta.name)
        top, left = sheet.start or (0, 0)
        cells = {
            (top + r, left + c): value
            for r, row in enumerate(sheet.to_python())
            for c, value in enumerate(row)
            if value != ""
        }
        grids[meta.name] = (cells, list(sheet.merged_cell_ranges or []))
    return grids


def openpyxl_grids(data: bytes) -> dict[str, Grid] | None:
    """Each worksheet's cached values as openpyxl (data_only) reads them; None if openpyxl cannot."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=True)
            grids: dict[str, Grid] = {}
            for sheet in book.worksheets:
                sheet.reset_dimensions()  # only the cells in the file, not its declared dimension
                grids[sheet.title] = {
                    (cell.row - 1, cell.column - 1): None if cell.data_type == "e" else cell.value
                    for row in sheet.iter_rows()
                    for cell in row
                    if getattr(cell, "value", None) is not None
                }
            book.close()
    except Exception:  # any failure means "openpyxl cannot read this file"
        return None
    return grids


def expected_table(name: str, cells: Grid, merged: list[tuple[tuple[int, int], tuple[int, int]]]) -> list[Any]:
    """The documented default table of a sheet: merged cells filled, headers from the first used row."""
    values = {pos: json_value(value) for pos, value in cells.items()}
    values = {pos: value for pos, value in values.items() if value is not None}
    for (top, left), (bottom, right) in merged:
        corner = values.get((top, left))
        if corner is not None:
            values.update({(r, c): corner for r in range(top, bottom + 1) for c in range(left, right + 1)})
    if not values:
        return []
    rows = sorted({r for r, _ in values})
    first, last = min(c for _, c in values), max(c for _, c in values)
    grid = [[values.get((r, c)) for c in range(first, last + 1)] for r in range(rows[0], rows[-1] + 1)]
    headers = _headers(grid[0], first)
    records = [dict(zip(headers, row, strict=True)) for row in grid[1:] if any(v is not None for v in row)]
    return [{"name": name, "headers": headers, "rows": records}]


def _headers(values: list[Json], first_col: int) -> list[str]:
    headers: list[str] = []
    for index, value in enumerate(values):
        text = str(value).strip() if value is not None else ""
        if not text:
            col, text = first_col + index + 1, ""
            while col:
                col, rem = divmod(col - 1, 26)
                text = chr(65 + rem) + text
        candidate, suffix = text, 2
        while candidate in headers:
            candidate, suffix = f"{text}_{suffix}", suffix + 1
        headers.append(candidate)
    return headers


def _serial(value: datetime.datetime) -> list[float]:
    return [(value - epoch).total_seconds() / 86400 for epoch in _EPOCHS]


def _as_datetime(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime.combine(value, datetime.time())
    return None


def _midnight_date(ours: Any, theirs: Any) -> bool:
    return type(ours) is datetime.date and isinstance(theirs, datetime.datetime) and theirs == _as_datetime(ours)


def _time_of_day(ours: Any, theirs: Any) -> bool:
    return isinstance(ours, datetime.time) and isinstance(theirs, datetime.datetime) and theirs.time() == ours


def _date_format_only_calamine_reads(ours: Any, theirs: Any) -> bool:
    if not isinstance(theirs, int | float) or isinstance(theirs, bool):
        return False
    if isinstance(ours, datetime.time):  # a time format on a number outside 0..1: its time of day
        fraction = theirs % 1 * 86400
        return abs(fraction - (ours.hour * 3600 + ours.minute * 60 + ours.second + ours.microsecond / 1e6)) < 1e-3
    moment = _as_datetime(ours)
    return moment is not None and any(abs(serial - theirs) < 1e-6 for serial in _serial(moment))


def _escaped_characters(ours: Any, theirs: Any) -> bool:
    if not isinstance(ours, str) or not isinstance(theirs, str):
        return False
    return _ESCAPE.sub(lambda match: chr(int(match[1], 16)), theirs) == ours


def _surrounding_whitespace(ours: Any, theirs: Any) -> bool:
    return isinstance(theirs, str) and (ours or "") == theirs.strip() and (ours is None or isinstance(ours, str))


DISAGREEMENTS: dict[str, Callable[[Any, Any], bool]] = {
    "date-only format: calamine gives a date, openpyxl a datetime at midnight": _midnight_date,
    "time-only format: calamine gives a time, openpyxl a datetime on 1899-12-30": _time_of_day,
    "a date/time format that openpyxl does not recognise: calamine converts, openpyxl gives the number": (
        _date_format_only_calamine_reads
    ),
    "_xHHHH_ escapes in text: calamine decodes them (as the OOXML spec says), openpyxl keeps them": (
        _escaped_characters
    ),
    "spaces or line breaks around text (no xml:space): calamine trims them, openpyxl keeps them": (
        _surrounding_whitespace
    ),
}


def disagreement(ours: Any, theirs: Any) -> str | None:
    """The name of the documented kind a calamine/openpyxl difference belongs to, or None if unknown."""
    for kind, rule in DISAGREEMENTS.items():
        if rule(ours, theirs):
            return kind
    return None
