"""extract, merge and update end to end: a real `python server.py`, files built here, a fake Graph.

Every job goes through POST /api/v1/jobs/start, /status (long polls) and /result, or through the
direct POST /api/v1/<endpoint>; SharePoint files live in the fake Graph's drive.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]
from openpyxl import load_workbook
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches

from handlers.merge import PPTX_TYPE
from handlers.update import XLSX_TYPE
from tests.handlers.builders import b64, openpyxl_workbook, png, report_workbook, template_deck
from tests.handlers.live import LiveService
from tests.sharepoint.fake_graph import FakeGraph

EXTRACT, MERGE, UPDATE = "/api/v1/extract", "/api/v1/merge", "/api/v1/update"

REPORT_RULES = [
    {"type": "cell", "key": "client", "cell": "B1"},
    {"type": "cell", "key": "due", "cell": "A4"},  # a date
    {"type": "cell", "key": "sum", "cell": "D1"},  # =2+3, cached 5
    {"type": "cell", "key": "error", "cell": "D2"},  # =1/0
    {"type": "cell", "key": "merged", "cell": "G2"},  # inside F1:G2
    {"type": "label", "key": "quarter", "label": "Quarter"},  # the label is merged A2:B2
    {"type": "label", "key": "due_below", "label": "due", "direction": "below"},
    {"type": "table", "name": "by_range", "range": "A6:C8"},
    {"type": "table", "name": "by_start", "start": "A6"},
    {"type": "table", "name": "sales", "excel_table": "Sales"},
    {"type": "images"},
]
REPORT_PAIRS = {
    "client": "ACME Ltd",
    "due": "2024-07-01",
    "sum": 5,
    "error": None,
    "merged": "Merged title",
    "quarter": "Q3",
    "due_below": "2024-07-01",
}
# What the jobs service itself says before the handler reports anything.
SERVICE_MESSAGES = r"Job (created|queued).*|Processing /api/v1/\w+ request\.\.\."
ITEMS = [{"Item": "Widget", "Qty": 3, "Price": 2.5}, {"Item": "Gadget", "Qty": 1, "Price": 10}]
MERGE_DATA = {
    "key_value_pairs": {"client": "ACME", "total": 1234.5, "due": "2024-07-01"},
    "tables": {"items": ITEMS, "sales": [{"Month": "Jan", "Amount": 100}, {"Month": "Feb", "Amount": 150}]},
    "images": {"logo": b64(png(200, 100))},
}


def report_payload() -> dict[str, Any]:
    return {
        "excel_base64": b64(report_workbook()),
        "config": {"sheets": {"Report": {"extraction_rules": REPORT_RULES}}},
    }


def many_sheets(count: int) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    for number in range(1, count + 1):
        sheet = book.add_worksheet(f"S{number}")
        sheet.write_row("A1", ["Row", "Sheet"])
        for row in range(1, 51):
            sheet.write_row(row, 0, [row, number])
    book.close()
    return out.getvalue()


def many_slides(count: int) -> bytes:
    deck = Presentation()
    for number in range(1, count + 1):
        slide = deck.slides.add_slide(deck.slide_layouts[6])
        slide.shapes.add_textbox(
            Inches(1), Inches(1), Inches(4), Inches(1)
        ).text_frame.text = f"{number}: {{{{client}}}}"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def deck_of(file: dict[str, Any]) -> Any:
    return Presentation(io.BytesIO(base64.b64decode(file["base64"])))


def texts(shapes: Any) -> list[str]:
    found: list[str] = []
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            found += texts(shape.shapes)
        elif shape.has_text_frame:
            found.append(shape.text_frame.text)
    return found


def assert_progress_stream(events: list[dict[str, Any]], handler_message: str) -> list[tuple[int, str]]:
    """The events end completed at 100, never go backwards, and carry only the handler's messages."""
    seen = [(event["progress"], event["message"]) for event in events]
    assert events[-1]["status"] == "completed"
    assert seen[-1] == (100, "Job completed successfully")
    assert [progress for progress, _ in seen] == sorted(progress for progress, _ in seen)
    for _, message in seen[:-1]:
        assert message is None or re.fullmatch(f"{SERVICE_MESSAGES}|{handler_message}", message), message
    return seen


# -- extract --------------------------------------------------------------------------------------


def test_extract_job_returns_cells_labels_tables_images_dates_formulas_and_merged_cells(live: LiveService) -> None:
    data = live.result(EXTRACT, report_payload())

    assert data["sheet_names"] == ["Report", "Other"]  # all sheets by default
    report = data["sheets"]["Report"]
    assert report["key_value_pairs"] == REPORT_PAIRS
    assert report["tables"] == [
        {"name": "by_range", "headers": ["Item", "Qty", "Price"], "rows": ITEMS},
        {"name": "by_start", "headers": ["Item", "Qty", "Price"], "rows": ITEMS},
        {
            "name": "sales",
            "headers": ["Month", "Amount"],
            "rows": [{"Month": "Jan", "Amount": 100}, {"Month": "Feb", "Amount": 150}],
        },
    ]
    [image] = report["images"]
    assert (image["anchor"], image["format"], image["width"], image["height"]) == ("H2", "png", 30, 15)
    assert base64.b64decode(image["data_base64"]) == png(30, 15)
    # A sheet without rules is one table named after it.
    assert data["sheets"]["Other"]["tables"][0]["rows"] == [{"Name": "x", "B": 1, "Name_2": "y"}]


def test_extract_reports_progress_per_sheet_and_reads_every_sheet(live: LiveService) -> None:
    job_id = live.start_ok(EXTRACT, {"excel_base64": b64(many_sheets(20))})

    events = live.events(job_id)

    assert_progress_stream(events, r"Loading the workbook|Extracting sheet 'S\d+' \(\d+/20\)|Extraction finished")
    data = live.result_of(job_id)
    assert data["sheet_names"] == [f"S{n}" for n in range(1, 21)]
    assert data["sheets"]["S20"]["tables"][0]["rows"][-1] == {"Row": 50, "Sheet": 20}


# -- merge ----------------------------------------------------------------------------------------


def test_merge_job_fills_split_placeholders_tables_pictures_and_charts(live: LiveService) -> None:
    data = live.result(MERGE, {"template_base64": b64(template_deck()), "data": MERGE_DATA})

    assert data["unknown_placeholders"] == ["missing"]  # reported, and left in the deck
    assert (data["slides"], data["tables_filled"], data["images_placed"], data["charts_updated"]) == (2, 1, 1, 1)
    assert data["file"]["name"] == "template-merged.pptx"
    assert data["file"]["content_type"] == PPTX_TYPE
    assert data["file"]["size"] == len(base64.b64decode(data["file"]["base64"]))
    first, second = deck_of(data["file"]).slides
    assert first.shapes.title.text == "Report for ACME"
    assert "Grouped ACME" in texts(first.shapes)
    assert first.notes_slide.notes_text_frame.text == "Notes for ACME"
    box = next(shape for shape in first.shapes if shape.has_text_frame and "Total" in shape.text_frame.text)
    runs = box.text_frame.paragraphs[0].runs
    assert [run.text for run in runs] == ["Total: 1,234.50", " due 01 Jul 2024", " {{missing}}"]
    assert [run.font.bold for run in runs] == [True, False, False]  # "{{to" + "tal}}" kept the first run's style
    [picture] = [shape for shape in first.shapes if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert picture.image.blob == png(200, 100)
    table = next(shape for shape in second.shapes if shape.has_table).table
    assert [[cell.text for cell in row.cells] for row in table.rows][1:3] == [
        ["Widget", "3", "2.5"],
        ["Gadget", "1", "10"],
    ]
    chart = next(shape for shape in second.shapes if shape.has_chart).chart
    assert list(chart.plots[0].categories) == ["Jan", "Feb"]
    assert list(chart.series[0].values) == [100, 150]


def test_merge_takes_its_data_from_an_excel_workbook(live: LiveService) -> None:
    excel = {
        "excel_base64": b64(report_workbook()),
        "sheet_names": ["Report"],
        "config": {
            "sheets": {
                "Report": {
                    "extraction_rules": [
                        {"type": "cell", "key": "client", "cell": "B1"},
                        {"type": "cell", "key": "total", "cell": "D1"},
                        {"type": "table", "name": "items", "range": "A6:C8"},
                    ]
                }
            }
        },
    }

    data = live.result(MERGE, {"template_base64": b64(template_deck()), "excel": excel})

    first, second = deck_of(data["file"]).slides
    assert first.shapes.title.text == "Report for ACME Ltd"
    table = next(shape for shape in second.shapes if shape.has_table).table
    assert [cell.text for cell in table.rows[2].cells] == ["Gadget", "1", "10"]
    assert data["unknown_placeholders"] == ["chart:sales", "due", "image:logo", "missing"]


def test_merge_reports_progress_per_slide(live: LiveService) -> None:
    job_id = live.start_ok(
        MERGE, {"template_base64": b64(many_slides(15)), "data": {"key_value_pairs": {"client": "ACME"}}}
    )

    events = live.events(job_id)

    assert_progress_stream(events, r"Loading the template|Filling slide \d+/15|Saving the presentation")
    data = live.result_of(job_id)
    assert (data["slides"], data["replaced"], data["unknown_placeholders"]) == (15, 15, [])
    assert texts(deck_of(data["file"]).slides[14].shapes) == ["15: ACME"]


# -- update ---------------------------------------------------------------------------------------

UPDATES = [
    {"sheet": "Data", "cell": "B2", "value": 10},
    {"sheet": "Data", "append_rows": [["c", 3]], "table": "Items"},
    {"create_sheet": "Summary"},
    {"sheet": "Summary", "anchor": "A1", "values": [["Total", 13], ["Rows", 3]]},
    {"sheet": "Summary", "cell": "C1", "value": "2024-07-01", "type": "date"},
]
UPDATED_RULES = {
    "Data": {"extraction_rules": [{"type": "table", "name": "items", "excel_table": "Items"}]},
    "Summary": {
        "extraction_rules": [
            {"type": "label", "key": "total", "label": "Total"},
            {"type": "label", "key": "rows", "label": "Rows"},
            {"type": "cell", "key": "when", "cell": "C1"},
        ]
    },
    "Notes": {"extraction_rules": [{"type": "cell", "key": "kept", "cell": "A1"}]},
}


def assert_updated(extracted: dict[str, Any]) -> None:
    """What extract reads back from the workbook after UPDATES."""
    sheets = extracted["sheets"]
    assert extracted["sheet_names"] == ["Data", "Notes", "Summary"]
    assert sheets["Data"]["tables"][0]["rows"] == [
        {"Name": "a", "Amount": 10},
        {"Name": "b", "Amount": 2},
        {"Name": "c", "Amount": 3},
    ]
    assert sheets["Summary"]["key_value_pairs"] == {"total": 13, "rows": 3, "when": "2024-07-01"}
    assert sheets["Notes"]["key_value_pairs"] == {"kept": "keep me"}


def test_update_job_writes_the_workbook_and_extract_reads_the_writes_back(live: LiveService) -> None:
    data = live.result(UPDATE, {"excel_base64": b64(openpyxl_workbook()), "file_name": "book.xlsx", "updates": UPDATES})

    assert data["updates_applied"] == len(UPDATES)
    assert (data["file"]["name"], data["file"]["content_type"]) == ("book.xlsx", XLSX_TYPE)
    extracted = live.result(EXTRACT, {"excel_base64": data["file"]["base64"], "config": {"sheets": UPDATED_RULES}})
    assert_updated(extracted)
    book = load_workbook(io.BytesIO(base64.b64decode(data["file"]["base64"])))
    assert book["Data"].tables["Items"].ref == "A1:B4"
    assert book["Data"]["B2"].number_format == "#,##0.00"  # the style of the cell written over is kept
    assert book["Data"]["D1"].value == "=SUM(B2:B3)"
    assert "Total" in book.defined_names


# -- SharePoint, against the fake Graph -----------------------------------------------------------


def test_sharepoint_extracts_download_through_graph_with_one_token_and_retries(
    live: LiveService, live_graph: FakeGraph
) -> None:
    item = live_graph.drive.add_file("Report.xlsx", report_workbook())
    payload = {**report_payload(), "sharepoint_excel_url": item.sharing_url}
    del payload["excel_base64"]
    live_graph.fail(429, times=1, retry_after="0")  # throttled once: retried, not failed

    first = live.result(EXTRACT, payload)
    second = live.result(EXTRACT, {"sharepoint_excel_url": item.sharing_url, "sheet_names": ["Other"]})

    assert first["sheets"]["Report"]["key_value_pairs"] == REPORT_PAIRS
    assert second["sheet_names"] == ["Other"]
    # One worker process: every job signs in once between them, at most (the token is cached).
    assert live_graph.token_requests == 1
    assert live_graph.leaked_authorization == []


def test_progress_is_reported_while_a_job_waits_on_sharepoint(live: LiveService, live_graph: FakeGraph) -> None:
    template = live_graph.drive.add_file("Template.pptx", template_deck())
    folder = live_graph.drive.add_folder("Progress")
    # Every Graph call takes a while, so the job sits at a known step while it uploads the deck.
    live_graph.graph_delay_seconds = 0.5
    payload = {
        "sharepoint_pptx_url": template.sharing_url,
        "data": MERGE_DATA,
        "output": {"sharepoint_folder_url": folder.sharing_url, "return_file": False},
    }
    job_id = live.start_ok(MERGE, payload)

    seen = assert_progress_stream(
        live.events(job_id), r"Loading the template|Filling slide \d/2|Saving the presentation"
    )

    # Not (2, "Loading the template") as well: the service drops a report that arrives before it has
    # marked the job running, which the first report of a job sometimes does.
    assert (95, "Saving the presentation") in seen
    assert live.result_of(job_id)["uploaded"]["name"] == "Template-merged.pptx"


def test_sharepoint_merge_uploads_the_deck_into_a_folder(live: LiveService, live_graph: FakeGraph) -> None:
    original = template_deck()
    template = live_graph.drive.add_file("Template.pptx", original)
    folder = live_graph.drive.add_folder("Decks")
    output = {"sharepoint_folder_url": folder.sharing_url, "file_name": "Q3.pptx", "return_file": False}

    data = live.result(MERGE, {"sharepoint_pptx_url": template.sharing_url, "data": MERGE_DATA, "output": output})

    assert "file" not in data
    stored = live_graph.drive.child(folder.id, "Q3.pptx")
    assert stored is not None
    assert data["uploaded"]["url"] == stored.web_url
    assert data["uploaded"]["size"] == len(stored.data)
    deck = Presentation(io.BytesIO(stored.data))
    assert deck.slides[0].shapes.title.text == "Report for ACME"
    assert template.data == original  # the template itself is untouched


def test_sharepoint_update_overwrites_the_source_and_the_service_reads_it_back(
    live: LiveService, live_graph: FakeGraph
) -> None:
    item = live_graph.drive.add_file("Book.xlsx", openpyxl_workbook())
    output = {"overwrite_source": True, "return_file": False}

    data = live.result(UPDATE, {"sharepoint_excel_url": item.sharing_url, "updates": UPDATES, "output": output})

    assert data["uploaded"]["id"] == item.id
    assert data["uploaded"]["size"] == len(item.data)
    assert_updated(
        live.result(EXTRACT, {"sharepoint_excel_url": item.sharing_url, "config": {"sheets": UPDATED_RULES}})
    )


def test_a_missing_sharepoint_file_fails_the_job_saying_so(live: LiveService, live_graph: FakeGraph) -> None:
    item = live_graph.drive.add_file("Gone.xlsx", report_workbook())
    live_graph.fail(404, times=1, path_part="/shares/")

    message = live.failure(EXTRACT, {"sharepoint_excel_url": item.sharing_url})

    assert re.fullmatch(
        r"Job failed: SharePoint file not found \(404\): https://contoso\.sharepoint\.com/\S+ .*", message
    )
    assert "?e=" not in message  # the sharing link's query string is not echoed
    live.assert_healthy()


# -- direct calls ---------------------------------------------------------------------------------


def test_direct_calls_answer_with_the_handler_result(live: LiveService, live_graph: FakeGraph) -> None:
    template = live_graph.drive.add_file("Direct.pptx", template_deck())

    extracted = live.request("POST", EXTRACT, report_payload())
    merged = live.request("POST", MERGE, {"sharepoint_pptx_url": template.sharing_url, "data": MERGE_DATA})
    updated = live.request("POST", UPDATE, {"excel_base64": b64(openpyxl_workbook()), "updates": UPDATES})

    assert extracted.status == merged.status == updated.status == 200
    assert extracted.body["success"] is True
    assert extracted.body["message"] == "Data extracted successfully"
    assert extracted.body["data"]["sheets"]["Report"]["key_value_pairs"] == REPORT_PAIRS
    assert deck_of(merged.body["data"]["file"]).slides[0].shapes.title.text == "Report for ACME"
    assert merged.body["data"]["file"]["name"] == "Direct-merged.pptx"
    rules = {"config": {"sheets": UPDATED_RULES}}
    assert_updated(
        live.request("POST", EXTRACT, {"excel_base64": updated.body["data"]["file"]["base64"], **rules}).body["data"]
    )


def test_direct_calls_refuse_bad_payloads_and_report_failed_jobs(live: LiveService) -> None:
    bad_rule = {
        "excel_base64": b64(report_workbook()),
        "config": {"sheets": {"Report": {"extraction_rules": [{"type": "cell", "key": "k", "cell": "B"}]}}},
    }

    refused = live.request("POST", EXTRACT, bad_rule)
    failed = live.request("POST", EXTRACT, {"excel_base64": b64(b"not a workbook")})

    assert refused.status == 400
    assert (
        refused.body["message"]
        == "config.sheets.Report.extraction_rules[0].cell: 'B' is not a cell reference like 'B2'"
    )
    assert failed.status == 422
    assert (
        failed.body["message"] == "Job failed: workbook.xlsx is a text file (CSV or similar), not a workbook; "
        "extract takes .xlsx, .xlsm, .xlsb, .xls or .ods"
    )
