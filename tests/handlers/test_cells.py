"""Cell values as JSON: records() converts calamine's values as to_json does, one value at a time."""

from __future__ import annotations

import datetime

from handlers.xlsx.cells import records, to_json

DAY = datetime.date(2024, 1, 1)
MIDNIGHT = datetime.datetime(2024, 1, 1)  # the same day as a timestamp: its own text


def test_records_convert_every_kind_as_to_json_does() -> None:
    row = [3.0, 2.5, "", "text", DAY, MIDNIGHT, datetime.time(12, 30), datetime.timedelta(hours=36), True, 2.0**60]
    headers = [f"h{index}" for index in range(len(row))]
    assert records(headers, [row]) == [dict(zip(headers, map(to_json, row), strict=True))]
    assert records(headers, [row])[0]["h5"] == "2024-01-01T00:00:00"


def test_a_date_and_a_timestamp_of_the_same_day_keep_their_own_texts_in_any_order() -> None:
    rows = [[DAY, MIDNIGHT], [MIDNIGHT, DAY], [DAY, DAY]]
    assert records(["a", "b"], rows) == [
        {"a": "2024-01-01", "b": "2024-01-01T00:00:00"},
        {"a": "2024-01-01T00:00:00", "b": "2024-01-01"},
        {"a": "2024-01-01", "b": "2024-01-01"},
    ]


def test_more_distinct_dates_than_are_kept_at_once_still_convert_each_exactly() -> None:
    days = [DAY + datetime.timedelta(days=offset % 5000) for offset in range(12_000)]
    assert records(["day"], ([day] for day in days)) == [{"day": day.isoformat()} for day in days]


def test_blank_rows_are_left_out_and_rows_with_an_empty_first_cell_kept() -> None:
    rows: list[list[str | float]] = [["", ""], ["", 1.0], [], ["x", ""]]
    assert records(["a", "b"], rows) == [{"a": None, "b": 1}, {"a": "x", "b": None}]
