"""Turn any real deck into a merge template, and know what its merged output must show.

Generic over decks: a text box with a placeholder on the first visible slide, a new table bound to
`rows`, the first existing table with a header row bound too, and every chart bound to a table of the
shape its kind takes (categories, XY or bubble), discovered from the chart's plot elements.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches

from tests.handlers.builders import rezip

CLIENT = "Quokka Zebra 4711"  # the placeholder's value, found again in LibreOffice's PDF
ROWS = [{"Name": "Widget", "Qty": 3, "Note": "first"}, {"Name": "Gadget", "Qty": 12, "Note": "second"}]
_CHART_NS = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_EDITABLE = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
_TEMPLATE_TYPES = (
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
)


@dataclass
class ChartPlan:
    """One chart bound to `name`: its kind and the series it must show after the merge."""

    name: str
    kind: str  # category, xy or bubble
    headers: list[str]
    records: list[dict[str, Any]]
    series: list[tuple[str, list[float]]]


@dataclass
class Template:
    """A corpus deck made into a template, and what its merge must produce."""

    data: bytes
    slide_index: int  # the slide (0-based) that holds the placeholder text box and the new table
    bound_table_rows: int | None  # rows of the existing table bound to `rows` (None: no such table)
    charts: list[ChartPlan] = field(default_factory=list)

    def payload_data(self) -> dict[str, Any]:
        """The merge `data` that fills this template."""
        tables: dict[str, Any] = {"rows": ROWS}
        for chart in self.charts:
            tables[chart.name] = {"headers": chart.headers, "rows": chart.records}
        return {"key_value_pairs": {"client": CLIENT}, "tables": tables}


def main_content_type(data: bytes) -> str:
    """The content type of a package's main (presentation) part."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        types = etree.fromstring(package.read("[Content_Types].xml"))
    for override in types:
        if override.get("PartName", "").startswith("/ppt/presentation."):
            return str(override.get("ContentType"))
    raise AssertionError("no presentation part in [Content_Types].xml")


def make_template(original: bytes) -> Template:
    """Add the placeholder, the table bindings and the chart bindings to a real deck."""
    kept_type = main_content_type(original)
    editable = _with_main_type(original, kept_type, _EDITABLE) if kept_type in _TEMPLATE_TYPES else original
    deck = Presentation(io.BytesIO(editable))
    if not len(deck.slides):
        deck.slides.add_slide(deck.slide_layouts[0])
    slide_index = next((i for i, slide in enumerate(deck.slides) if slide._element.get("show") != "0"), 0)
    slide = deck.slides[slide_index]
    slide.shapes.add_textbox(Inches(0.2), Inches(0.2), Inches(6), Inches(0.6)).text_frame.text = "Merged {{client}}"
    frame = slide.shapes.add_table(2, 3, Inches(0.2), Inches(1), Inches(6), Inches(0.8))
    for column, header in enumerate(["Name", "Qty", "Note"]):
        frame.table.cell(0, column).text = header
    frame.table.cell(1, 0).text = "{{table:rows}}"
    bound_rows = _bind_first_table(deck, frame)
    charts = [_bind_chart(shape, number) for number, shape in enumerate(_charts(deck), start=1)]
    out = io.BytesIO()
    deck.save(out)
    saved = out.getvalue()
    if kept_type in _TEMPLATE_TYPES:
        saved = _with_main_type(saved, _EDITABLE, kept_type)
    return Template(saved, slide_index, bound_rows, charts)


def _with_main_type(data: bytes, old: str, new: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        types = package.read("[Content_Types].xml")
    return rezip(data, {"[Content_Types].xml": types.replace(old.encode(), new.encode())})


def shapes_of(deck: Any) -> Iterator[Any]:
    """Every shape of every slide, groups opened."""

    def walk(shapes: Any) -> Iterator[Any]:
        for shape in shapes:
            yield shape
            if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
                yield from walk(shape.shapes)

    for slide in deck.slides:
        yield from walk(slide.shapes)


def _bind_first_table(deck: Any, ours: Any) -> int | None:
    for shape in shapes_of(deck):
        if shape.has_table and shape.shape_id != ours.shape_id and len(shape.table.rows) >= 2:
            shape.name = "table:rows"  # template row: the second row
            return len(shape.table.rows)
    return None


def _charts(deck: Any) -> list[Any]:
    return [shape for shape in shapes_of(deck) if getattr(shape, "has_chart", False) and shape.has_chart]


def chart_kind(chart: Any) -> str:
    """category, xy or bubble, from the chart's plot elements."""
    tags = {etree.QName(child).localname for child in chart._chartSpace.find(f"{_CHART_NS}chart/{_CHART_NS}plotArea")}
    if "bubbleChart" in tags:
        return "bubble"
    return "xy" if "scatterChart" in tags else "category"


def _bind_chart(shape: Any, number: int) -> ChartPlan:
    name = f"c{number}"
    shape.name = f"chart:{name}"
    kind = chart_kind(shape.chart)
    count = max(1, len(list(shape.chart.series)))
    names = [f"S{index} of {name}" for index in range(1, count + 1)]
    # Distinct per chart and series, so a value read back names its chart.
    values = [[float(100 * number + 10 * index + point) for point in range(1, 4)] for index in range(1, count + 1)]
    if kind == "bubble":
        headers = ["X"] + [header for series in names for header in (series, f"{series} size")]
        records: list[dict[str, Any]] = [
            {"X": point + 1, **{h: v[point] for h, v in zip(names, values, strict=True)}}
            | {f"{h} size": point + 2 for h in names}
            for point in range(3)
        ]
    else:
        headers = ["X" if kind == "xy" else "Month", *names]
        first: list[Any] = [1, 2, 3] if kind == "xy" else ["Jan", "Feb", "Mar"]
        records = [{headers[0]: first[p], **{h: v[p] for h, v in zip(names, values, strict=True)}} for p in range(3)]
    return ChartPlan(name, kind, headers, records, list(zip(names, values, strict=True)))
