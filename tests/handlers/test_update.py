"""The update handler, called in-process on a workbook built by the tests."""

from __future__ import annotations

import base64
import datetime
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from handlers.common.errors import PayloadError, SheetNotFound, TableNotFound, UpdateFailed
from handlers.extract import extract
from handlers.update import update, validate
from tests.handlers.builders import b64, openpyxl_workbook


def run(updates: list[dict[str, Any]], **extra: Any) -> tuple[dict[str, Any], Any]:
    payload = {"excel_base64": b64(openpyxl_workbook()), "updates": updates, **extra}
    validate(payload)
    result = update(payload)
    assert result["success"] is True
    data = result["data"]
    return data, load_workbook(io.BytesIO(base64.b64decode(data["file"]["base64"])))


def test_cells_are_written_keeping_style_number_format_and_everything_else() -> None:
    data, book = run(
        [{"sheet": "Data", "cell": "B2", "value": 42.5}, {"sheet": "Data", "cell": "A1", "value": "Label"}]
    )
    sheet = book["Data"]
    assert sheet["B2"].value == 42.5 and sheet["B2"].number_format == "#,##0.00"
    assert sheet["A1"].value == "Label" and sheet["A1"].font.bold
    assert sheet["D1"].value == "=SUM(B2:B3)"  # formulas kept
    assert "F1:G1" in {str(r) for r in sheet.merged_cells.ranges}
    assert book.defined_names["Total"].attr_text == "Data!$D$1"
    assert book["Notes"]["A1"].value == "keep me"
    assert len(sheet._images) == 1  # the picture is kept
    assert book.calculation.fullCalcOnLoad is True
    assert data["file"]["content_type"].endswith("spreadsheetml.sheet") and data["updates_applied"] == 2


def test_text_starting_with_an_equals_sign_stays_text_and_formulas_are_explicit() -> None:
    _, book = run(
        [
            {"sheet": "Data", "cell": "C1", "value": '=HYPERLINK("http://evil")'},
            {"sheet": "Data", "cell": "C2", "formula": "B2*2"},
        ]
    )
    assert book["Data"]["C1"].data_type == "s"
    assert book["Data"]["C2"].value == "=B2*2"


def test_dates_are_written_as_dates() -> None:
    _, book = run([{"sheet": "Data", "cell": "E1", "value": "2024-07-01", "type": "date"}])
    cell = book["Data"]["E1"]
    assert cell.value == datetime.datetime(2024, 7, 1) and cell.is_date


def test_a_block_is_written_at_an_anchor() -> None:
    _, book = run([{"sheet": "Notes", "anchor": "B2", "values": [[1, 2], [3, None]]}])
    sheet = book["Notes"]
    assert [[c.value for c in row] for row in sheet["B2:C3"]] == [[1, 2], [3, None]]


def test_rows_are_appended_after_the_last_used_row() -> None:
    _, book = run([{"sheet": "Notes", "append_rows": [["x"], ["y"]]}])
    assert [book["Notes"].cell(row=r, column=1).value for r in (1, 2, 3)] == ["keep me", "x", "y"]


def test_rows_appended_to_a_named_table_extend_its_range_and_style() -> None:
    _, book = run([{"sheet": "Data", "append_rows": [["c", 3], ["d", 4]], "table": "Items"}])
    sheet = book["Data"]
    assert sheet.tables["Items"].ref == "A1:B5"
    assert sheet["B5"].value == 4 and sheet["B5"].number_format == "#,##0.00"


def test_an_updated_workbook_extracts_back() -> None:
    data, _ = run([{"create_sheet": "New"}, {"sheet": "New", "anchor": "A1", "values": [["k", "v"], ["a", 1]]}])
    extracted = extract({"excel_base64": data["file"]["base64"], "sheet_names": ["New"]})["data"]
    assert extracted["sheets"]["New"]["tables"][0]["rows"] == [{"k": "a", "v": 1}]


def test_errors_name_what_is_wrong() -> None:
    with pytest.raises(SheetNotFound, match="sheet 'Nope' not found"):
        run([{"sheet": "Nope", "cell": "A1", "value": 1}])
    with pytest.raises(TableNotFound, match="table 'Nope' not found on sheet 'Data'"):
        run([{"sheet": "Data", "append_rows": [[1]], "table": "Nope"}])
    with pytest.raises(UpdateFailed, match="sheet 'Notes' already exists"):
        run([{"create_sheet": "Notes"}])


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ([], "updates: must contain at least one update"),
        ([{"sheet": "S", "cell": "1A", "value": 1}], r"updates\[0\]\.cell: '1A' is not a cell reference"),
        ([{"sheet": "S", "cell": "A1"}], r"updates\[0\]: give exactly one of 'value' and 'formula'"),
        ([{"sheet": "S", "cell": "A1", "value": {"a": 1}}], r"updates\[0\]\.value: expected a string"),
        ([{"sheet": "S", "anchor": "A1", "values": [1]}], r"updates\[0\]\.values\[0\]: expected a list"),
        ([{"sheet": "S", "delete": "A1"}], r"updates\[0\]: expected one of 'cell', 'anchor'"),
        ([{"create_sheet": "a/b"}], r"updates\[0\]\.create_sheet: 'a/b' is not a valid sheet name"),
        ([{"sheet": "S", "cell": "A1", "value": "x", "type": "date"}], r"'x' is not an ISO 8601 date"),
    ],
)
def test_bad_updates_are_refused_naming_the_field(updates: list[Any], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        validate({"excel_base64": "AAAA", "updates": updates})


def test_overwriting_needs_a_sharepoint_source() -> None:
    with pytest.raises(
        PayloadError, match=r"output\.overwrite_source: needs the file to come from 'sharepoint_excel_url'"
    ):
        validate({"excel_base64": "AAAA", "updates": [{"create_sheet": "x"}], "output": {"overwrite_source": True}})
