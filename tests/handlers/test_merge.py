"""The merge handler, called in-process on templates built by the tests."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from pptx import Presentation
from pptx.util import Inches

from handlers.common.errors import HandlerError, PayloadError
from handlers.merge import merge, validate
from tests.handlers.builders import b64, png, report_workbook, template_deck

DATA: dict[str, Any] = {
    "key_value_pairs": {"client": "ACME", "total": 1234.5, "due": "2024-07-01"},
    "tables": {"items": [{"Item": "Widget", "Qty": 3, "Price": 2.5}, {"Item": "Gadget", "Qty": 1, "Price": 10}]},
    "images": {"logo": b64(png(200, 100))},
}


def run(**payload: Any) -> tuple[dict[str, Any], Any]:
    body = {"template_base64": b64(template_deck()), **payload}
    validate(body)
    result = merge(body)
    assert result["success"] is True
    data = result["data"]
    deck = Presentation(io.BytesIO(base64.b64decode(data["file"]["base64"])))
    return data, deck


def texts(shapes: Any) -> list[str]:
    found = []
    for shape in shapes:
        if shape.shape_type == 6:
            found += texts(shape.shapes)
        elif shape.has_text_frame:
            found.append(shape.text_frame.text)
    return found


def test_placeholders_are_replaced_everywhere_keeping_run_formatting() -> None:
    data, deck = run(data=DATA)
    slide = deck.slides[0]
    assert slide.shapes.title.text == "Report for ACME"
    assert "Grouped ACME" in texts(slide.shapes)
    assert slide.notes_slide.notes_text_frame.text == "Notes for ACME"
    box = next(shape for shape in slide.shapes if shape.has_text_frame and "Total" in shape.text_frame.text)
    runs = box.text_frame.paragraphs[0].runs
    # "{{total}}" was split over a bold and a plain run: the value goes in the run where it started.
    assert [run.text for run in runs] == ["Total: 1,234.50", " due 01 Jul 2024", " {{missing}}"]
    assert [run.font.bold for run in runs] == [True, False, False]
    assert data["unknown_placeholders"] == ["chart:sales", "missing"]


def test_unknown_placeholders_can_be_removed_or_fail_the_job() -> None:
    _, deck = run(data=DATA, options={"unknown_placeholders": "remove"})
    assert all("{{missing}}" not in text for text in texts(deck.slides[0].shapes))
    with pytest.raises(HandlerError, match="placeholders without data: chart:sales, missing"):
        run(data=DATA, options={"unknown_placeholders": "error"})


def test_a_bound_table_gets_one_styled_row_per_record() -> None:
    data, deck = run(data=DATA)
    frame = next(shape for shape in deck.slides[1].shapes if shape.has_table)
    rows = [[cell.text for cell in row.cells] for row in frame.table.rows]
    assert rows == [["Item", "Qty", "Price"], ["Widget", "3", "2.5"], ["Gadget", "1", "10"], ["Total 1234.5", "", ""]]
    assert frame.height == Inches(1.2) + Inches(1.2) // 3  # one row added, the frame grew with it
    assert data["tables_filled"] == 1


def test_a_template_row_with_placeholders_is_filled_per_record() -> None:
    deck = Presentation(io.BytesIO(template_deck()))
    table = next(shape for shape in deck.slides[1].shapes if shape.has_table).table
    table.cell(1, 0).text = "{{table:items}}{{Item}}"
    table.cell(1, 2).text = "{{Price|.2f}} EUR"
    out = io.BytesIO()
    deck.save(out)
    data = merge({"template_base64": b64(out.getvalue()), "data": DATA})["data"]
    merged = Presentation(io.BytesIO(base64.b64decode(data["file"]["base64"])))
    rows = [[c.text for c in r.cells] for r in next(s for s in merged.slides[1].shapes if s.has_table).table.rows]
    assert rows[1] == ["Widget", "", "2.50 EUR"]
    assert rows[2] == ["Gadget", "", "10.00 EUR"]


def test_a_marked_shape_becomes_the_picture_fitted_in_its_box() -> None:
    data, deck = run(data=DATA)
    pictures = [shape for shape in deck.slides[0].shapes if shape.shape_type == 13]
    assert len(pictures) == 1
    picture = pictures[0]
    # A 2:1 picture in a 2in square box: full width, half height, centred vertically.
    assert (picture.width, picture.height) == (Inches(2), Inches(1))
    assert (picture.left, picture.top) == (Inches(1), Inches(3) + Inches(0.5))
    assert data["images_placed"] == 1


def test_chart_data_is_replaced_from_a_table() -> None:
    sales = [{"Month": "Jan", "Amount": 100, "Cost": 60}, {"Month": "Feb", "Amount": 150, "Cost": 70}]
    data, deck = run(data={**DATA, "tables": {**DATA["tables"], "sales": sales}})
    chart = next(shape for shape in deck.slides[1].shapes if shape.has_chart).chart
    assert list(chart.plots[0].categories) == ["Jan", "Feb"]
    assert [(s.name, list(s.values)) for s in chart.series] == [("Amount", [100.0, 150.0]), ("Cost", [60.0, 70.0])]
    assert data["charts_updated"] == 1


def test_missing_tables_images_and_charts_are_reported() -> None:
    data, _ = run(data={"key_value_pairs": {"client": "x"}})
    assert data["unknown_placeholders"] == ["chart:sales", "due", "image:logo", "missing", "table:items", "total"]


def test_the_data_can_come_from_an_excel_extract() -> None:
    excel = {
        "excel_base64": b64(report_workbook()),
        "sheet_names": ["Report"],
        "config": {
            "sheets": {
                "Report": {
                    "extraction_rules": [
                        {"type": "label", "key": "client", "label": "Client"},
                        {"type": "table", "name": "items", "range": "A6:C8"},
                        {"type": "table", "name": "sales", "excel_table": "Sales"},
                    ]
                }
            }
        },
    }
    data, deck = run(excel=excel, data={"key_value_pairs": {"total": 1}})
    assert deck.slides[0].shapes.title.text == "Report for ACME Ltd"
    assert data["tables_filled"] == 1 and data["charts_updated"] == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "give exactly one of 'sharepoint_pptx_url' and 'template_base64'"),
        ({"template_base64": "AAAA", "data": {"tables": {"t": "x"}}}, "data.tables.t: expected a list"),
        ({"template_base64": "AAAA", "data": {"tables": {"t": [1]}}}, r"data.tables.t\[0\]: expected a record"),
        ({"template_base64": "AAAA", "data": {"images": {"logo": "%%%"}}}, "data.images.logo: not valid base64"),
        ({"template_base64": "AAAA", "excel": {"excel_base64": "AAAA", "sheet_names": [1]}}, r"excel.sheet_names\[0\]"),
        ({"template_base64": "AAAA", "excel": {}}, "give exactly one of 'excel.sharepoint_excel_url'"),
        ({"template_base64": "AAAA", "output": {"overwrite_source": True}}, "unknown field"),
        ({"template_base64": "AAAA", "options": {"unknown_placeholders": "skip"}}, "expected one of keep, remove"),
    ],
)
def test_bad_merge_payloads_are_refused_naming_the_field(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        validate(payload)


def test_a_bad_image_is_a_clear_error() -> None:
    with pytest.raises(HandlerError, match="image 'logo' is not a readable picture"):
        run(data={"images": {"logo": b64(b"not a picture")}})


def deck_with_table_cells(cells: dict[tuple[int, int], str]) -> bytes:
    deck = Presentation(io.BytesIO(template_deck()))
    table = next(shape for shape in deck.slides[1].shapes if shape.has_table).table
    for (row, col), text in cells.items():
        table.cell(row, col).text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def table_rows(data: dict[str, Any]) -> list[list[str]]:
    merged = Presentation(io.BytesIO(base64.b64decode(data["file"]["base64"])))
    frame = next(shape for shape in merged.slides[1].shapes if shape.has_table)
    return [[cell.text for cell in row.cells] for row in frame.table.rows]


def test_a_table_marker_beside_other_text_fills_the_columns_and_keeps_that_text() -> None:
    template = deck_with_table_cells({(1, 0): "No. {{table:items}}", (1, 1): "pcs"})
    data = merge({"template_base64": b64(template), "data": DATA})["data"]
    # No placeholders besides the marker: columns are filled from the headers, the marker's cell
    # keeps its other text around the value.
    assert table_rows(data)[1:3] == [["No. Widget", "3", "2.5"], ["No. Gadget", "1", "10"]]
    assert data["tables_filled"] == 1


def test_a_table_marker_beside_a_placeholder_keeps_the_text_as_a_template() -> None:
    template = deck_with_table_cells({(1, 0): "{{table:items}}# {{Item}}", (1, 1): "{{Qty}} pcs"})
    data = merge({"template_base64": b64(template), "data": DATA})["data"]
    assert table_rows(data)[1:3] == [["# Widget", "3 pcs", ""], ["# Gadget", "1 pcs", ""]]


def test_a_table_marker_split_over_runs_is_found_and_removed() -> None:
    deck = Presentation(io.BytesIO(template_deck()))
    table = next(shape for shape in deck.slides[1].shapes if shape.has_table).table
    paragraph = table.cell(1, 0).text_frame.paragraphs[0]
    paragraph.runs[0].text = "#{{tab"
    paragraph.add_run().text = "le:items}} "
    out = io.BytesIO()
    deck.save(out)
    data = merge({"template_base64": b64(out.getvalue()), "data": DATA})["data"]
    assert table_rows(data)[1:3] == [["#Widget ", "3", "2.5"], ["#Gadget ", "1", "10"]]


def test_a_marker_in_a_one_row_table_makes_that_row_the_template() -> None:
    deck = Presentation(io.BytesIO(template_deck()))
    frame = deck.slides[1].shapes.add_table(1, 3, Inches(0.5), Inches(5), Inches(6), Inches(0.4))
    frame.table.cell(0, 0).text = "{{table:items}}"
    frame.table.cell(0, 1).text = "Qty"  # not a header: the row is the template, filled in column order
    out = io.BytesIO()
    deck.save(out)
    data = merge({"template_base64": b64(out.getvalue()), "data": DATA})["data"]
    merged = Presentation(io.BytesIO(base64.b64decode(data["file"]["base64"])))
    table = [shape for shape in merged.slides[1].shapes if shape.has_table][1].table
    assert [[cell.text for cell in row.cells] for row in table.rows] == [["Widget", "3", "2.5"], ["Gadget", "1", "10"]]
    assert data["tables_filled"] == 2
