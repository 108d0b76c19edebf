"""Build the workbooks and templates the handler tests read, in memory."""

from __future__ import annotations

import base64
import datetime
import io
import zipfile
from typing import Any

import xlsxwriter
from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.worksheet.table import Table
from PIL import Image
from pptx import Presentation
from pptx.chart.data import BubbleChartData, CategoryChartData, XyChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches, Pt


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png(width: int = 40, height: int = 20, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def report_workbook() -> bytes:
    """A workbook like the ones users extract from: labels, dates, formulas with cached values,
    merged cells, a named table, an image, and a second sheet."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Report")
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write("A1", "Client:")
    sheet.write("B1", "ACME Ltd")
    sheet.merge_range("A2:B2", "Quarter")
    sheet.write("C2", "Q3")
    sheet.write("A3", "Due")
    sheet.write_datetime("A4", datetime.datetime(2024, 7, 1), date)
    sheet.write_formula("D1", "=2+3", None, 5)
    sheet.write_formula("D2", "=1/0", None, "#DIV/0!")
    sheet.merge_range("F1:G2", "Merged title")
    sheet.write_row("A6", ["Item", "Qty", "Price"])
    sheet.write_row("A7", ["Widget", 3, 2.5])
    sheet.write_row("A8", ["Gadget", 1, 10])
    sheet.write_row("A10", ["after", "blank"])
    sheet.add_table(
        "E6:F8",
        {"name": "Sales", "columns": [{"header": "Month"}, {"header": "Amount"}], "data": [["Jan", 100], ["Feb", 150]]},
    )
    sheet.insert_image("H2", "logo.png", {"image_data": io.BytesIO(png(30, 15))})
    other = book.add_worksheet("Other")
    other.write_row("A1", ["Name", "", "Name"])
    other.write_row("A2", ["x", 1, "y"])
    book.close()
    return out.getvalue()


def openpyxl_workbook() -> bytes:
    """A workbook for updates: styles, number formats, a formula, a defined name, a table, an image."""
    from openpyxl.styles import Font
    from openpyxl.workbook.defined_name import DefinedName

    book = Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["Name", "Amount"])
    sheet.append(["a", 1])
    sheet.append(["b", 2])
    sheet["A1"].font = Font(bold=True)
    sheet["B2"].number_format = "#,##0.00"
    sheet["B3"].number_format = "#,##0.00"
    sheet["D1"] = "=SUM(B2:B3)"
    sheet.merge_cells("F1:G1")
    table = Table(displayName="Items", ref="A1:B3")
    sheet.add_table(table)
    sheet.add_image(SheetImage(io.BytesIO(png())), "H5")
    book.defined_names["Total"] = DefinedName("Total", attr_text="Data!$D$1")
    book.create_sheet("Notes")["A1"] = "keep me"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_deck() -> bytes:
    """A template with placeholders everywhere text can be, a bound table, an image marker and a chart."""
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    slide.shapes.title.text = "Report for {{client}}"
    box = slide.shapes.add_textbox(Inches(1), Inches(1.5), Inches(4), Inches(1))
    paragraph = box.text_frame.paragraphs[0]
    for text, bold in (("Total: {{to", True), ("tal|,.2f}} due {{due|%d %b %Y}}", False), (" {{missing}}", False)):
        run = paragraph.add_run()
        run.text = text
        run.font.bold = bold
        run.font.size = Pt(20)
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(6), Inches(1), Inches(2), Inches(1)).text_frame.text = "Grouped {{client}}"
    marker = slide.shapes.add_textbox(Inches(1), Inches(3), Inches(2), Inches(2))
    marker.text_frame.text = "{{image:logo}}"
    slide.notes_slide.notes_text_frame.text = "Notes for {{client}}"
    second = deck.slides.add_slide(deck.slide_layouts[6])  # blank
    frame = second.shapes.add_table(3, 3, Inches(0.5), Inches(0.5), Inches(6), Inches(1.2))
    for col, header in enumerate(["Item", "Qty", "Price"]):
        frame.table.cell(0, col).text = header
    frame.table.cell(1, 0).text = "{{table:items}}"
    frame.table.cell(2, 0).text = "Total {{total}}"
    chart_data: Any = CategoryChartData()
    chart_data.categories = ["a", "b"]
    chart_data.add_series("S1", (1, 2))
    chart = second.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(3), Inches(4), Inches(3), chart_data
    )
    chart.name = "chart:sales"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def chart_deck(chart_type: XL_CHART_TYPE, *, title: str | None = None, axis_title: str | None = None) -> bytes:
    """One slide with one chart of `chart_type` named `chart:points`, optionally with titles."""
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    data: Any
    if chart_type.name.startswith("BUBBLE"):
        data = BubbleChartData()
        data.add_series("B1").add_data_point(1, 2, 3)
    elif chart_type.name.startswith("XY_SCATTER"):
        data = XyChartData()
        data.add_series("X1").add_data_point(1, 2)
    else:
        data = CategoryChartData()
        data.categories = ["a", "b"]
        data.add_series("S1", (1, 2))
    frame = slide.shapes.add_chart(chart_type, Inches(1), Inches(1), Inches(6), Inches(4), data)
    frame.name = "chart:points"
    if title is not None:
        frame.chart.has_title = True
        frame.chart.chart_title.text_frame.text = title
    if axis_title is not None:
        frame.chart.value_axis.has_title = True
        frame.chart.value_axis.axis_title.text_frame.text = axis_title
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def rezip(data: bytes, replace: dict[str, bytes], *, extra: dict[str, bytes] | None = None) -> bytes:
    """A copy of a zip with some members' contents replaced or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, content in (extra or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def sheet_with_gaps() -> bytes:
    """One sheet whose table has a blank column and rows before it, blank rows and an empty first cell."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Gaps")
    sheet.write_row("B3", ["Name", "Qty", "Note"])
    sheet.write_row("B4", ["a", 1])
    sheet.write("D6", "only the last cell")  # row 5 is blank, row 6 has an empty first cell
    sheet.write_row("B8", ["b", 2.0, "x"])  # row 7 blank too; a blank column A and row 1-2 before
    book.close()
    return out.getvalue()
