"""The count of one .ods table, as calamine's `read_row` and `get_range` make it (see area/ods.py).

Fed row element by row element (by the expat reader or the fast scanner): the cells pushed per row,
and the rows and columns from the first to the last value (and formula).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from handlers.xlsx.area.span import refuse_if_larger

_COUNT = re.compile(r"\+?[0-9]+")  # what Rust's usize parser accepts
# The attributes that give a cell a value (office:value-type="string" does too, with its text).
VALUE_ATTRIBUTES = (
    "office:value",
    "office:string-value",
    "office:date-value",
    "office:time-value",
    "office:boolean-value",
)


def repeats(value: str | None) -> int:
    """A repeat count as calamine parses it.

    A count calamine cannot parse fails the whole workbook; counting it as 1 only over-counts what
    comes before that failure. Character references are resolved (calamine resolves them in
    number-rows-repeated and fails on them in number-columns-repeated).
    """
    if value is not None and "&" in value:
        value = html.unescape(value)
    return int(value) if value is not None and _COUNT.fullmatch(value) else 1


@dataclass(slots=True)
class _Rectangle:
    """get_range's bounds over the row elements for values (or formulas)."""

    first_row: int = -1  # index of the first row element holding one
    last_row: int = -1
    first_col: int = 0
    last_col: int = 0

    def add(self, row: int, first: int, last: int) -> None:
        if self.first_row < 0:
            self.first_row, self.first_col, self.last_col = row, first, last
        else:
            self.first_col, self.last_col = min(self.first_col, first), max(self.last_col, last)
        self.last_row = row

    def shape(self, repeats: list[int]) -> tuple[int, int]:
        if self.first_row < 0:
            return 0, 0
        return sum(repeats[self.first_row : self.last_row + 1]), self.last_col - self.first_col + 1


@dataclass(slots=True)
class Row:
    """The cells pushed for one row element, and where its values and formulas sit."""

    pushed: int = 0
    pending_empty: int = 0
    values: tuple[int, int] | None = None
    formulas: tuple[int, int] | None = None

    def cell(self, repeats: int, value: bool, formula: bool) -> None:
        self.pushed += self.pending_empty
        self.pending_empty = 0
        if not (value or formula):
            self.pending_empty = repeats
            return
        span = (self.pushed, self.pushed + repeats - 1)
        if value:
            self.values = span if self.values is None else (self.values[0], span[1])
        if formula:
            self.formulas = span if self.formulas is None else (self.formulas[0], span[1])
        self.pushed += repeats


@dataclass(slots=True)
class Table:
    """One table's count: the cells pushed, and the value and formula rectangles."""

    name: str
    raw: int = 0
    widest: int = 0
    rows_pushed: int = 0
    repeats: list[int] = field(default_factory=list)
    values: _Rectangle = field(default_factory=_Rectangle)
    formulas: _Rectangle = field(default_factory=_Rectangle)

    def add_row(self, row: Row, repeats: int) -> None:
        index = len(self.repeats)
        self.repeats.append(repeats)
        self.raw += row.pushed
        if row.pushed:
            self.widest, self.rows_pushed = max(self.widest, row.pushed), self.rows_pushed + 1
        if row.values is not None:
            self.values.add(index, *row.values)
        if row.formulas is not None:
            self.formulas.add(index, *row.formulas)

    def check(self, max_cells: int) -> None:
        for rows, cols in (self.values.shape(self.repeats), self.formulas.shape(self.repeats)):
            refuse_if_larger(self.name, rows, cols, max_cells)
        if self.raw > max_cells:  # the rows as pushed, before the rectangle is cut out of them
            refuse_if_larger(self.name, self.rows_pushed, self.widest, max_cells)
