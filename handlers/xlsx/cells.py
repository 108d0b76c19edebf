"""A1 cell references and the conversion of cell values to JSON."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.common.errors import InvalidCellReference
from handlers.xlsx import native

MAX_ROW = 1_048_576  # the limits of an .xlsx sheet (Excel 2007 and later)
MAX_COLUMN = 16_384  # column XFD

_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_EXACT_FLOAT_INT = 2.0**53  # beyond this a float no longer represents every integer exactly
_ISO_TEXTS = 4096  # distinct dates whose text records() keeps at once: a few years of days

JsonValue = None | bool | int | float | str
Records = list[dict[str, JsonValue]]


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell position, 0-based, as calamine's grids index it."""

    row: int
    col: int

    @property
    def a1(self) -> str:
        """The position in A1 notation."""
        return f"{column_letters(self.col)}{self.row + 1}"


@dataclass(frozen=True, slots=True)
class CellRange:
    """An inclusive rectangle of cells."""

    first: Cell
    last: Cell

    @property
    def a1(self) -> str:
        """The range in A1 notation."""
        return f"{self.first.a1}:{self.last.a1}"


def column_letters(col: int) -> str:
    """The letters of a 0-based column index: 0 -> A, 26 -> AA."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    """The 0-based index of column letters: A -> 0, AA -> 26."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def parse_cell(text: object, field: str) -> Cell:
    """Parse an A1 reference such as `B2` or `$B$2`; `field` names the payload field in errors."""
    match = _CELL.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidCellReference(f"{field}: {text!r} is not a cell reference like 'B2'")
    col, row = column_index(match[1]), int(match[2]) - 1
    if not (0 <= row < MAX_ROW and col < MAX_COLUMN):
        raise InvalidCellReference(f"{field}: {text!r} is outside the sheet (A1:XFD1048576)")
    return Cell(row, col)


def parse_range(text: object, field: str) -> CellRange:
    """Parse an A1 range such as `A5:C9` (corners in any order) into a normalised rectangle."""
    if not isinstance(text, str) or text.count(":") != 1:
        raise InvalidCellReference(f"{field}: {text!r} is not a range like 'A5:C9'")
    start, end = (parse_cell(part, field) for part in text.split(":"))
    return CellRange(
        Cell(min(start.row, end.row), min(start.col, end.col)),
        Cell(max(start.row, end.row), max(start.col, end.col)),
    )


def to_json(value: Any) -> JsonValue:
    """A calamine cell value as JSON: empty -> None, whole floats -> int, dates and times -> ISO 8601."""
    kind = type(value)
    if kind is str:
        # calamine reports empty cells (and error values such as #DIV/0!) as "".
        result: JsonValue = value or None
    elif kind is float:
        exact = value.is_integer() and -_EXACT_FLOAT_INT <= value <= _EXACT_FLOAT_INT
        result = int(value) if exact else float(value)
    elif value is None or kind is bool or kind is int:
        result = value
    elif isinstance(value, datetime.date | datetime.time):
        result = value.isoformat()
    elif isinstance(value, datetime.timedelta):
        result = iso_duration(value)
    else:
        result = str(value)
    return result


def iso_duration(delta: datetime.timedelta) -> str:
    """An ISO 8601 duration such as `PT36H30M` (Excel durations are shown in hours, not days)."""
    seconds = delta.total_seconds()
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    secs_text = f"{secs:g}"
    return f"{sign}PT{int(hours)}H{int(minutes)}M{secs_text}S"


def records(headers: list[str], rows: Iterable[Sequence[Any]]) -> Records:
    """Rows of calamine values as JSON records keyed by `headers`; a row with no value is left out.

    The C accelerator (handlers/xlsx/_records.c) when it is built, else `python_records`, the reference
    that it must equal.
    """
    if native.records is None:
        return python_records(headers, rows)
    return native.records(headers, rows, to_json)


def python_records(headers: list[str], rows: Iterable[Sequence[Any]]) -> Records:
    """`records` in Python: the reference implementation, and the fallback when the C one is not built.

    `to_json` inlined for the common kinds, in one loop with the records: this runs once per cell of
    big sheets, and every call or generator step per row or cell shows (a third of the time).
    """
    out: Records = []
    add = out.append
    date, stamp, low, high = datetime.date, datetime.datetime, -_EXACT_FLOAT_INT, _EXACT_FLOAT_INT
    # Dates repeat (a column of days): each is converted once and its text shared, which halves their
    # time and keeps one string per distinct date in memory. (A date never equals a datetime.)
    iso: dict[datetime.date, str] = {}
    for row in rows:
        # calamine's "" is an empty cell, and the only value that converts to null. Most rows have a
        # value in their first cell, so a blank row is looked for only past an empty one (list.count
        # runs in C, but each comparison of a number with "" is slow).
        if not row or (row[0] == "" and row.count("") == len(row)):
            continue
        values: list[JsonValue] = []
        keep = values.append
        for value in row:
            kind = type(value)
            # Most-common kinds first: numbers, then text (calamine's "" is an empty cell), then dates.
            if kind is float:
                keep(int(value) if value.is_integer() and low <= value <= high else value)
            elif kind is str:
                keep(value or None)
            elif kind is date or kind is stamp:
                text = iso.get(value)
                if text is None:
                    if len(iso) == _ISO_TEXTS:
                        iso.clear()
                    text = iso[value] = value.isoformat()
                keep(text)
            else:
                keep(to_json(value))
        add(dict(zip(headers, values, strict=False)))
    return out
