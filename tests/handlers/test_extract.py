"""The extract handler, called in-process on workbooks built by the tests."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from handlers.common.errors import PayloadError, SheetNotFound, TableNotFound
from handlers.extract import extract, validate
from tests.handlers.builders import b64, png, report_workbook, sheet_with_gaps


def run(rules: Sequence[Mapping[str, Any]], sheet: str = "Report", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "excel_base64": b64(report_workbook()),
        "config": {"sheets": {sheet: {"extraction_rules": rules}}},
    }
    payload.update(extra)
    validate(payload)
    result = extract(payload)
    assert result["success"] is True
    sheet_data: dict[str, Any] = result["data"]["sheets"][sheet]
    return sheet_data


def test_cell_rules_give_cached_formula_values_iso_dates_and_null_for_errors() -> None:
    rules = [
        {"type": "cell", "key": "client", "cell": "B1"},
        {"type": "cell", "key": "due", "cell": "A4"},
        {"type": "cell", "key": "sum", "cell": "D1"},
        {"type": "cell", "key": "error", "cell": "D2"},
        {"type": "cell", "key": "empty", "cell": "Z99"},
        {"type": "cell", "key": "price", "cell": "$C$7"},
    ]
    pairs = run(rules)["key_value_pairs"]
    assert pairs == {"client": "ACME Ltd", "due": "2024-07-01", "sum": 5, "error": None, "empty": None, "price": 2.5}


def test_every_cell_of_a_merged_range_reads_as_its_top_left_value() -> None:
    rules = [{"type": "cell", "key": "inside", "cell": "G2"}, {"type": "cell", "key": "corner", "cell": "F1"}]
    assert run(rules)["key_value_pairs"] == {"inside": "Merged title", "corner": "Merged title"}


def test_label_rules_match_loosely_and_step_over_a_merged_label() -> None:
    rules: list[dict[str, Any]] = [
        {"type": "label", "key": "client", "label": "client"},  # the sheet says "Client:"
        {"type": "label", "key": "quarter", "label": "Quarter", "direction": "right"},  # merged A2:B2
        {"type": "label", "key": "due", "label": "Due", "direction": "below"},
        {"type": "label", "key": "far", "label": "Client", "offset": 3},
    ]
    assert run(rules)["key_value_pairs"] == {"client": "ACME Ltd", "quarter": "Q3", "due": "2024-07-01", "far": 5}


def test_a_missing_label_gives_null_and_a_warning() -> None:
    payload = {
        "excel_base64": b64(report_workbook()),
        "sheet_names": ["Report"],
        "config": {"sheets": {"Report": {"extraction_rules": [{"type": "label", "key": "x", "label": "Nope"}]}}},
    }
    data = extract(payload)["data"]
    assert data["sheets"]["Report"]["key_value_pairs"] == {"x": None}
    assert "'Nope' not found" in data["warnings"][0]


def test_table_from_a_range_has_header_records() -> None:
    tables = run([{"type": "table", "name": "items", "range": "A6:C8"}])["tables"]
    assert tables == [
        {
            "name": "items",
            "headers": ["Item", "Qty", "Price"],
            "rows": [{"Item": "Widget", "Qty": 3, "Price": 2.5}, {"Item": "Gadget", "Qty": 1, "Price": 10}],
        }
    ]


def test_table_from_a_start_cell_stops_at_the_first_blank_row() -> None:
    table = run([{"type": "table", "name": "items", "start": "A6"}])["tables"][0]
    assert [row["Item"] for row in table["rows"]] == ["Widget", "Gadget"]


def test_named_excel_table() -> None:
    table = run([{"type": "table", "name": "sales", "excel_table": "Sales"}])["tables"][0]
    assert table == {
        "name": "sales",
        "headers": ["Month", "Amount"],
        "rows": [{"Month": "Jan", "Amount": 100}, {"Month": "Feb", "Amount": 150}],
    }


def test_an_unknown_excel_table_is_a_clear_error() -> None:
    with pytest.raises(TableNotFound, match=r"'Nope' not found.*Sales"):
        run([{"type": "table", "name": "t", "excel_table": "Nope"}])


def test_images_come_with_anchor_format_size_and_data() -> None:
    images = run([{"type": "images"}])["images"]
    assert len(images) == 1
    image = images[0]
    assert (image["anchor"], image["format"], image["width"], image["height"]) == ("H2", "png", 30, 15)
    assert base64.b64decode(image["data_base64"]) == png(30, 15)


def test_a_sheet_without_rules_is_one_table_named_after_it() -> None:
    data = extract({"excel_base64": b64(report_workbook()), "sheet_names": ["Other"]})["data"]
    assert list(data["sheets"]) == ["Other"]
    table = data["sheets"]["Other"]["tables"][0]
    # An empty header is named after its column; a repeated one gets a suffix.
    assert table == {
        "name": "Other",
        "headers": ["Name", "B", "Name_2"],
        "rows": [{"Name": "x", "B": 1, "Name_2": "y"}],
    }


def test_all_sheets_are_extracted_by_default_with_progress() -> None:
    data = extract({"excel_base64": b64(report_workbook())})["data"]
    assert data["sheet_names"] == ["Report", "Other"]


def test_a_missing_sheet_names_the_available_ones() -> None:
    with pytest.raises(SheetNotFound, match=r"'Nope' not found; the workbook has: 'Report', 'Other'"):
        extract({"excel_base64": b64(report_workbook()), "sheet_names": ["Nope"]})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"type": "cell", "key": "k", "cell": "B"}, r"extraction_rules\[0\]\.cell: 'B' is not a cell reference"),
        ({"type": "cell", "key": "k", "cell": "XFE1"}, r"extraction_rules\[0\]\.cell: 'XFE1' is outside the sheet"),
        ({"type": "regex", "key": "k"}, r"extraction_rules\[0\]\.type: unknown rule type 'regex'"),
        (
            {"type": "label", "key": "k", "label": "x", "direction": "left"},
            r"extraction_rules\[0\]\.direction: expected 'right' or 'below'",
        ),
        (
            {"type": "table", "name": "t"},
            r"extraction_rules\[0\]: a table rule needs exactly one of 'range', 'start' or 'excel_table'",
        ),
        ({"type": "table", "name": "t", "range": "A1"}, r"extraction_rules\[0\]\.range: 'A1' is not a range"),
        ({"type": "cell", "key": "k", "cel": "B2"}, r"extraction_rules\[0\]: unknown field\(s\) 'cel'"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(rule: dict[str, Any], message: str) -> None:
    payload = {"excel_base64": "AAAA", "config": {"sheets": {"Sheet1": {"extraction_rules": [rule]}}}}
    with pytest.raises(ValueError, match=rf"config\.sheets\.Sheet1\.{message}"):
        validate(payload)


def test_duplicate_keys_are_refused() -> None:
    rules = [{"type": "cell", "key": "k", "cell": "A1"}, {"type": "cell", "key": "k", "cell": "A2"}]
    with pytest.raises(PayloadError, match=r"extraction_rules\[1\]\.key: 'k' is used by an earlier rule"):
        validate({"excel_base64": "AAAA", "config": {"sheets": {"S": {"extraction_rules": rules}}}})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "give exactly one of 'sharepoint_excel_url' and 'excel_base64'"),
        ({"excel_base64": "AAAA", "sharepoint_excel_url": "https://x"}, "give exactly one"),
        ({"excel_base64": "not base64!"}, "excel_base64: not valid base64"),
        ({"excel_base64": "AAA"}, "excel_base64: not valid base64"),
        ({"sharepoint_excel_url": "http://x.sharepoint.com/a"}, "must be an https:// URL"),
        ({"excel_base64": "AAAA", "sheet_names": "Sheet1"}, "sheet_names: expected a list"),
        ({"excel_base64": "AAAA", "colour": 1}, "unknown field"),
    ],
)
def test_bad_payloads_are_refused_naming_the_field(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        validate(payload)


def test_a_data_url_is_accepted_as_base64() -> None:
    payload = {
        "excel_base64": "data:application/octet-stream;base64," + b64(report_workbook()),
        "sheet_names": ["Other"],
    }
    validate(payload)
    assert extract(payload)["data"]["sheet_names"] == ["Other"]


def test_a_whole_sheet_table_keeps_rows_with_an_empty_first_cell_and_drops_blank_rows() -> None:
    data = extract({"excel_base64": b64(sheet_with_gaps())})["data"]
    assert data["sheets"]["Gaps"]["tables"] == [
        {
            "name": "Gaps",
            "headers": ["Name", "Qty", "Note"],
            "rows": [
                {"Name": "a", "Qty": 1, "Note": None},
                {"Name": None, "Qty": None, "Note": "only the last cell"},
                {"Name": "b", "Qty": 2, "Note": "x"},
            ],
        }
    ]


def test_a_range_table_drops_blank_rows_but_not_rows_with_an_empty_first_cell() -> None:
    payload = {
        "excel_base64": b64(sheet_with_gaps()),
        "config": {"sheets": {"Gaps": {"extraction_rules": [{"type": "table", "name": "t", "range": "B3:D9"}]}}},
    }
    rows = extract(payload)["data"]["sheets"]["Gaps"]["tables"][0]["rows"]
    assert [row["Note"] for row in rows] == [None, "only the last cell", "x"]
