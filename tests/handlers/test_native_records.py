"""The C records (handlers/xlsx/_records.c) equal the Python reference, value for value and type for type."""

from __future__ import annotations

import datetime
import decimal
import gc
import math
import random
import sys
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from handlers.common.errors import HandlerError
from handlers.xlsx import _records, cells, native
from handlers.xlsx.cells import Records, python_records, to_json
from handlers.xlsx.formats import open_workbook, worksheet_names
from handlers.xlsx.grid import Grid
from tests.corpus import CORPUS, corpus_files
from tests.external_tools import missing

EDGE = 2.0**53
DAY = datetime.date(2024, 2, 29)


class Text(str):
    """A str subclass: not calamine's, so it takes to_json's path (which gives str(value), even for "")."""

    __slots__ = ()


class Number(float):
    """A float subclass, for the same reason."""

    __slots__ = ()


class Unprintable:
    """A value to_json cannot convert (its str() fails)."""

    def __str__(self) -> str:
        raise ValueError("no text")


# Every kind calamine returns (float, int, bool, str, date, datetime, time, timedelta; "" for an
# empty cell), with their edges, and a few kinds it does not, which go through to_json.
FLOATS = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.1, 1e-300, 5e-324, 123456789.0, 1.5e16, 1e300, -1e300]
EDGES = [EDGE, -EDGE, EDGE - 1, -(EDGE - 1), EDGE + 2, -(EDGE + 2), 2.0**63, -(2.0**63), 2.0**64, 2.0**1000]
SPECIAL = [math.nan, math.inf, -math.inf]
INTS = [0, 1, -1, 255, 256, 257, 2**53 + 1, -(2**70), True, False]
TEXTS = ["", "", "", "x", "0", " ", "é", "長い", "x" * 5000, "2024-01-01"]
WHEN = [
    DAY,
    datetime.date(1900, 1, 1),
    datetime.date.min,
    datetime.date.max,
    datetime.datetime(2024, 2, 29),
    datetime.datetime(2024, 2, 29, 23, 59, 59, 999_999),
    datetime.datetime.max,
    datetime.time(0, 0),
    datetime.time(12, 30, 15, 250),
    datetime.timedelta(hours=36, minutes=30),
    datetime.timedelta(seconds=-90.5),
    datetime.timedelta(0),
]
OTHERS = [None, Text(""), Text("t"), Number(3.0), Number(2.5), decimal.Decimal("1.10"), b"raw"]
KINDS: list[Any] = FLOATS + EDGES + SPECIAL + INTS + TEXTS + WHEN + OTHERS


def typed(out: Records) -> list[list[tuple[str, type, str]]]:
    """Records with each value's type and repr: NaN equals nothing, and 1 == 1.0 == True."""
    return [[(key, type(value), repr(value)) for key, value in record.items()] for record in out]


def in_c(headers: list[str], rows: Any) -> Records:
    return _records.records(headers, rows, to_json)


def assert_same(headers: list[str], rows: Sequence[Sequence[Any]]) -> None:
    expected, got = python_records(headers, rows), in_c(headers, iter(rows))
    assert typed(got) == typed(expected)


def random_row(rng: random.Random, width: int) -> Sequence[Any]:
    shape = rng.random()
    if shape < 0.1:
        length = 0 if rng.random() < 0.3 else rng.randint(1, width + 2)
        return [""] * length  # blank (or empty)
    length = width if shape < 0.6 else rng.randint(0, width + 3)  # ragged: shorter or longer
    row = [rng.choice(KINDS) for _ in range(length)]
    if row and rng.random() < 0.3:
        row[0] = ""  # an empty first cell: the blank test must look further
    return tuple(row) if rng.random() < 0.2 else row


def test_the_accelerator_is_built_and_used() -> None:
    # CI installs with `make`, which builds it: a missing build must fail here, not fall back unseen.
    assert native.BUILT
    assert cells.records(["a"], [[1.0]]) == [{"a": 1}]
    assert _records.__file__.endswith(".so") or _records.__file__.endswith(".pyd")


def test_its_bounds_are_those_of_the_python() -> None:
    assert int(cells._EXACT_FLOAT_INT) == _records.EXACT_FLOAT_INT
    assert cells._ISO_TEXTS == _records.ISO_TEXTS


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_of_every_kind_give_the_same_records(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(10):
        width = rng.randint(0, 8)
        headers = [f"h{index}" for index in range(width)]
        if width > 1 and rng.random() < 0.3:
            headers[-1] = headers[0]  # repeated: the last value wins, at the first key's place
        assert_same(headers, [random_row(rng, width) for _ in range(rng.randint(0, 60))])


@pytest.mark.parametrize("value", KINDS, ids=repr)
def test_each_kind_alone_converts_as_the_python_does(value: Any) -> None:
    assert_same(["a", "b"], [[value], [value, value], [value, value, value], ["", value], [value, ""]])


def test_ragged_blank_and_empty_rows_are_treated_as_zip_and_the_python_treat_them() -> None:
    headers = ["a", "b", "c"]
    rows: list[Sequence[Any]] = [
        [],
        [""],
        ["", "", ""],
        ["", "", "", ""],
        ["", "", "", 1.0],  # blank under the headers, not blank past them: kept, all null
        [1.0],
        ("x", 2.0),
        [1.0, 2.0, 3.0, 4.0, 5.0],
        [Text(""), ""],  # a str subclass equal to "": blank, as row.count("") says
        [Text(""), "", 1.0],
    ]
    assert_same(headers, rows)
    assert in_c(headers, rows)[0] == {"a": None, "b": None, "c": None}
    assert_same([], rows)


def test_more_distinct_dates_than_the_cache_holds_keep_their_own_texts() -> None:
    start = datetime.datetime(2024, 1, 1)
    days = [DAY + datetime.timedelta(days=offset % 6000) for offset in range(15_000)]
    rows = [
        [day, start + datetime.timedelta(hours=index), datetime.datetime.combine(day, datetime.time())]
        for index, day in enumerate(days)
    ]
    assert_same(["day", "stamp", "midnight"], rows)


def test_errors_propagate_as_in_the_python() -> None:
    def rows() -> Iterator[list[Any]]:
        yield [1.0]
        raise KeyError("from the rows")

    for run in (python_records, in_c):
        with pytest.raises(ValueError, match="no text"):
            run(["a"], [[1.0, Unprintable()]])
        with pytest.raises(KeyError, match="from the rows"):
            run(["a"], rows())
        with pytest.raises(TypeError):
            run(["a"], [5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        _records.records(["a"], [[1.0]], None)  # type: ignore[arg-type]


def test_no_reference_or_memory_is_leaked() -> None:
    text, number, day = "kept text", 2.5, datetime.date(2024, 1, 2)
    headers = ["a", "b", "c", "d"]
    rows = [[text, number, day, 7.0], [text, "", day], ["", "", "", ""]] * 200
    before = [sys.getrefcount(value) for value in (text, number, day, *headers)]
    out = in_c(headers, rows)
    del out
    with pytest.raises(ValueError):
        in_c(headers, [*rows, [Unprintable()]])
    assert [sys.getrefcount(value) for value in (text, number, day, *headers)] == before
    in_c(headers, rows)  # warmed up
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            in_c(headers, rows)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert grown < 50_000, grown


def test_every_corpus_sheet_gives_the_same_records() -> None:
    files = corpus_files("xlsx") + corpus_files("other")
    if not files:
        missing(f"the shared corpus at {CORPUS}", "it is laid beside the repository as ../shared/corpus")
    compared = 0
    for path in files:
        try:
            book = open_workbook(path.read_bytes(), path.name)
            grids = [Grid.read(book, sheet) for sheet in worksheet_names(book)]
        except HandlerError:  # a file calamine refuses has no records (test_corpus_extract covers it)
            continue
        for grid in grids:
            headers = [f"c{index}" for index in range(grid.width)]
            assert_same(headers, grid.rows)
            assert_same(headers[:-1], grid.rows)  # every row longer than the headers
            compared += 1
    assert compared >= 100, compared


def test_without_the_accelerator_records_fall_back_to_the_python(monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[list[Any]] = [[1.0, "", DAY], ["", "", ""], [2.5, "x", datetime.datetime(2024, 1, 1, 6)]]
    expected = cells.records(["a", "b", "c"], rows)
    monkeypatch.setattr(native, "records", None)
    assert typed(cells.records(["a", "b", "c"], rows)) == typed(expected)


def test_a_conversion_that_empties_its_row_and_the_headers_cannot_crash_the_loop() -> None:
    # Only to_json runs Python code inside the loop; the C reads the row again after each call.
    headers = ["a", "b", "c"]
    row: list[Any] = [Unprintable(), 1.0, 2.0]

    def meddling(value: Any) -> str:
        row.clear()
        headers.clear()
        return "x"

    assert _records.records(headers, [row], meddling)[0]["a"] == "x"
