"""Replace a chart's data from a table: category charts, XY scatter charts and bubble charts.

python-pptx rewrites the series XML and the chart's embedded workbook (written with xlsxwriter). Two
things are done here rather than through `chart.replace_data`:
- the kind of data is taken from the chart's plot elements, so every XY and bubble variant gets XY
  or bubble data (a category table on an XY chart crashes inside python-pptx);
- the embedded workbook is written with `strings_to_formulas` off: xlsxwriter's default turns any
  text starting with `=` (a category or series name from the request) into a live formula there.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from pptx.chart.data import BubbleChartData, CategoryChartData, XyChartData
from pptx.chart.xlsx import BubbleWorkbookWriter, CategoryWorkbookWriter, XyWorkbookWriter
from pptx.chart.xmlwriter import SeriesXmlRewriterFactory
from pptx.enum.chart import XL_CHART_TYPE
from pptx.exc import PythonPptxError
from pptx.util import lazyproperty
from xlsxwriter import Workbook  # type: ignore[import-untyped]

from handlers.common.errors import HandlerError
from handlers.pptx.budget import GrowthBudget

Table = tuple[list[str], list[dict[str, Any]]]  # headers, records

_C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_CHART_URI = "http://schemas.openxmlformats.org/drawingml/2006/chart"
# The plot elements python-pptx has a plot type for, by the data they take. The others (3-D bar,
# line and pie, bar-of-pie, stock, surface) have no python-pptx series rewriter.
_KINDS = {
    **dict.fromkeys(
        ("areaChart", "area3DChart", "barChart", "doughnutChart", "lineChart", "pieChart", "radarChart"), "category"
    ),
    "scatterChart": "xy",
    "bubbleChart": "bubble",
}
# A chart type of each kind: python-pptx picks its series rewriter from the type.
_REWRITER_TYPE = {
    "category": XL_CHART_TYPE.COLUMN_CLUSTERED,
    "xy": XL_CHART_TYPE.XY_SCATTER,
    "bubble": XL_CHART_TYPE.BUBBLE,
}
_POINT_BYTES = 64  # about what one data point costs in the chart XML and its workbook


@contextmanager
def _text_safe_worksheet(xlsx_file: io.BytesIO) -> Iterator[tuple[Any, Any]]:
    # Text stays text: no formulas from `=...` and no hyperlinks from `http://...` strings.
    workbook = Workbook(xlsx_file, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    worksheet = workbook.add_worksheet()
    yield workbook, worksheet
    workbook.close()


class _CategoryWriter(CategoryWorkbookWriter):
    def _open_worksheet(self, xlsx_file: io.BytesIO) -> Any:
        return _text_safe_worksheet(xlsx_file)


class _XyWriter(XyWorkbookWriter):
    def _open_worksheet(self, xlsx_file: io.BytesIO) -> Any:
        return _text_safe_worksheet(xlsx_file)


class _BubbleWriter(BubbleWorkbookWriter):
    def _open_worksheet(self, xlsx_file: io.BytesIO) -> Any:
        return _text_safe_worksheet(xlsx_file)


class _CategoryData(CategoryChartData):
    @lazyproperty
    def _workbook_writer(self) -> _CategoryWriter:
        return _CategoryWriter(self)  # type: ignore[no-untyped-call]


class _XyData(XyChartData):
    @lazyproperty
    def _workbook_writer(self) -> _XyWriter:
        return _XyWriter(self)  # type: ignore[no-untyped-call]


class _BubbleData(BubbleChartData):
    @lazyproperty
    def _workbook_writer(self) -> _BubbleWriter:
        return _BubbleWriter(self)  # type: ignore[no-untyped-call]


def hidden_charts(slide_element: Any) -> Iterator[tuple[str, str]]:
    """(shape name, what it is) of each chart frame on a slide that python-pptx does not see as a chart.

    Office 2016 charts (chartex: waterfall, histogram, treemap...) and frames inside
    `mc:AlternateContent` are not in python-pptx's shape tree, so they are found in the slide's XML.
    """
    for frame in slide_element.iter(f"{_P}graphicFrame"):
        graphic_data = frame.find(f"{_A}graphic/{_A}graphicData")
        uri = graphic_data.get("uri", "") if graphic_data is not None else ""
        alternate = any(etree.QName(parent).localname == "AlternateContent" for parent in frame.iterancestors())
        if uri == _CHART_URI and not alternate:
            continue  # an ordinary chart
        if uri.endswith("/chartex"):
            yield _frame_name(frame), "an Office 2016 chart (waterfall, histogram, treemap, sunburst, funnel...)"
        elif uri == _CHART_URI:
            yield _frame_name(frame), "a chart inside mc:AlternateContent"


def _frame_name(frame: Any) -> str:
    properties = frame.find(f"{_P}nvGraphicFramePr/{_P}cNvPr")
    return str(properties.get("name", "")) if properties is not None else ""


def fill_chart(shape: Any, table: Table, where: str, budget: GrowthBudget) -> None:
    """Replace a chart's data from `table`; `where` names the chart in errors (`chart 'x' on slide 2`)."""
    headers, records = table
    try:
        chart = shape.chart
    except KeyError:  # the graphic frame's relationship points at no part
        raise HandlerError(f"{where}: the chart's part is missing from the file") from None
    kind, type_name = _kind(chart, where)
    label = f"{where} ({type_name})"
    budget.take(_POINT_BYTES * len(headers) * len(records), f"data of {label}")
    if len(headers) < 2:
        raise HandlerError(f"{label} needs a table with a first column and at least one series column")
    if chart._chartSpace.find(f".//{_C}ser") is None:
        # python-pptx makes each new series a copy of the chart's last one, formatting included.
        raise HandlerError(f"{label} has no series to copy for the data; give the template's chart one series")
    if kind == "category":
        data: Any = _category_data(headers, records, label)
    elif kind == "xy":
        data = _xy_data(headers, records, label)
    else:
        data = _bubble_data(headers, records, label)
    # What chart.replace_data does, with the rewriter of the chart's kind rather than of its type.
    rewriter = SeriesXmlRewriterFactory(_REWRITER_TYPE[kind], data)  # type: ignore[no-untyped-call]
    rewriter.replace_series_data(chart._chartSpace)
    _unlink_workbook(chart)
    chart._workbook.update_from_xlsx_blob(data.xlsx_blob)


def _unlink_workbook(chart: Any) -> None:
    # A chart linked to a workbook elsewhere (or whose workbook part is missing) gets a workbook of
    # its own holding the merged data: the link would show the old data, and python-pptx cannot
    # write through it.
    external = chart._chartSpace.find(f"{_C}externalData")
    if external is None:
        return
    rid = external.get(f"{_R}id")
    relationships = chart.part.rels
    if rid in relationships and not relationships[rid].is_external:
        return
    if rid in relationships:
        relationships.pop(rid)
    chart._chartSpace.remove(external)


def _kind(chart: Any, where: str) -> tuple[str, str]:
    plot_area = chart._chartSpace.find(f"{_C}chart/{_C}plotArea")
    children = [child for child in (plot_area if plot_area is not None else []) if isinstance(child.tag, str)]
    tags = [etree.QName(child).localname for child in children if etree.QName(child).localname.endswith("Chart")]
    kinds = {_KINDS.get(tag) for tag in tags}
    if not tags or None in kinds:
        raise HandlerError(
            f"{where} is a {', '.join(tags) or 'plot-less'} chart, which merge cannot fill; "
            "it fills area, bar, column, line, pie, doughnut, radar, XY scatter and bubble charts"
        )
    if len(kinds) > 1:
        raise HandlerError(f"{where} combines {', '.join(tags)}, which take different data; merge cannot fill it")
    try:
        type_name = str(chart.chart_type.name)
    except (AttributeError, KeyError, ValueError, NotImplementedError, PythonPptxError):  # name the elements
        type_name = ", ".join(tags)
    return str(kinds.pop()), type_name


def _category_data(headers: list[str], records: list[dict[str, Any]], label: str) -> Any:
    data: Any = _CategoryData()  # type: ignore[no-untyped-call]
    data.categories = [_label(record.get(headers[0])) for record in records]
    for header in headers[1:]:
        data.add_series(header, [_number(record.get(header), label) for record in records])
    return data


def _xy_data(headers: list[str], records: list[dict[str, Any]], label: str) -> Any:
    data: Any = _XyData()  # type: ignore[no-untyped-call]
    for header in headers[1:]:
        series = data.add_series(header)
        for record in records:
            series.add_data_point(_number(record.get(headers[0]), label), _number(record.get(header), label))
    return data


def _bubble_data(headers: list[str], records: list[dict[str, Any]], label: str) -> Any:
    if len(headers) % 2 == 0:
        raise HandlerError(
            f"{label} needs X in the first column, then pairs of Y and size columns (one pair per series); "
            f"the table has {len(headers)} columns"
        )
    data: Any = _BubbleData()  # type: ignore[no-untyped-call]
    for y_header, size_header in zip(headers[1::2], headers[2::2], strict=True):
        series = data.add_series(y_header)
        for record in records:
            x, y = _number(record.get(headers[0]), label), _number(record.get(y_header), label)
            series.add_data_point(x, y, _number(record.get(size_header), label))
    return data


def _label(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def _number(value: Any, label: str) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        shown = value if isinstance(value, int | float | str) and len(str(value)) <= 40 else type(value).__name__
        raise HandlerError(f"{label}: value {shown!r} is not a number") from None
