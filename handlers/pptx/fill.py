"""Fill marked PowerPoint shapes: tables from data tables, pictures from images, charts from tables.

A shape is bound by its name (Selection Pane) `table:items`, `image:logo` or `chart:sales`, or by the
marker text `{{table:items}}` in a table cell or `{{image:logo}}` as a shape's whole text.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from pptx.shapes.group import GroupShape
from pptx.table import _Row

from handlers.common.errors import HandlerError
from handlers.pptx.charts import Table
from handlers.pptx.text import (
    MARKER_PREFIXES,
    PLACEHOLDER,
    TABLE_MARKER,
    Values,
    replace_in_paragraph,
    substitute_in_paragraph,
)

_MARKER = re.compile(r"^\{\{\s*(table|image|chart):\s*([^{}]+?)\s*\}\}$|^(table|image|chart):(.+)$")


def marker(shape: Any, kind: str) -> str | None:
    """The data name a shape is bound to as `kind` (table, image, chart), from its name or text."""
    texts = [shape.name]
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        texts.append(shape.text_frame.text.strip())
    for text in texts:
        if name := marker_in(text, kind):
            return name
    if kind == "table" and getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            for cell in row.cells:
                if found := TABLE_MARKER.search(cell.text_frame.text):
                    return found[1]
    return None


def marker_in(text: str, kind: str) -> str | None:
    """The data name that a shape name or text (`chart:sales`, `{{chart:sales}}`) binds as `kind`."""
    match = _MARKER.match(text.strip())
    if match and (match[1] or match[3]) == kind:
        return str(match[2] or match[4]).strip()
    return None


def walk(shapes: Any) -> Iterator[tuple[Any, Any]]:
    """Every (shape, its container) pair, groups included, in document order."""
    for shape in list(shapes):
        yield shape, shapes
        if isinstance(shape, GroupShape):  # not shape_type: it raises on shapes without geometry
            yield from walk(shape.shapes)


def fill_table(shape: Any, table: Table, values: Values) -> None:
    """Write records into a table shape: its template row is copied per record, keeping its style."""
    headers, records = table
    rows = shape.table._tbl.tr_lst
    # The template row is the one holding the {{table:...}} marker, else the row under the headers.
    template = next((tr for tr in rows if TABLE_MARKER.search(_row_text(tr))), None)
    if template is None and len(rows) < 2:
        raise HandlerError(f"table shape {shape.name!r} needs a header row and a template row")
    template = rows[1] if template is None else template
    # A marker in the first row makes it the template: there is no header row to match columns by.
    header_cells = shape.table.rows[0].cells if template is not rows[0] else []
    header_texts = [TABLE_MARKER.sub("", cell.text_frame.text).strip() for cell in header_cells]
    # A row with placeholders of its own is a text template; the marker alone does not make one.
    templated = any(not match[1].startswith(MARKER_PREFIXES) for match in PLACEHOLDER.finditer(_row_text(template)))
    values.budget.take(len(etree.tostring(template)) * len(records), f"rows of table shape {shape.name!r}")
    previous, added_height = template, 0
    for record in records:
        new_row = copy.deepcopy(template)
        previous.addnext(new_row)
        previous, added_height = new_row, added_height + int(new_row.h)
        _fill_row(_Row(new_row, shape.table), headers, header_texts, Values(record, values.budget, values), templated)
    template.getparent().remove(template)
    # The frame does not grow by itself; PowerPoint would otherwise draw rows over what lies below.
    shape.height = shape.height + added_height - int(template.h)


def _row_text(tr: Any) -> str:
    return "".join(t.text or "" for t in tr.iter("{http://schemas.openxmlformats.org/drawingml/2006/main}t"))


def _fill_row(row: Any, headers: list[str], header_texts: list[str], row_values: Values, templated: bool) -> None:
    unknown: set[str] = set()  # names unknown to a record are left as typed, like anywhere else
    for index, cell in enumerate(row.cells):
        frame = cell.text_frame
        if templated:
            for paragraph in frame.paragraphs:
                substitute_in_paragraph(paragraph, TABLE_MARKER, lambda _: "")
                replace_in_paragraph(paragraph, row_values.resolve, unknown)
            continue
        column = _column_for(index, header_texts[index] if index < len(header_texts) else "", headers)
        text = (row_values.resolve(column, None) if column is not None else "") or ""
        if TABLE_MARKER.search(frame.text):
            # The marker's cell keeps the rest of its text; the value goes where the marker was.
            for paragraph in frame.paragraphs:
                substitute_in_paragraph(paragraph, TABLE_MARKER, _constant(text))
        else:
            set_cell_text(frame, text)


def _constant(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _: text


def _column_for(index: int, header_text: str, headers: list[str]) -> str | None:
    # A template row without placeholders is filled by matching the header row's texts to the
    # data's headers; when none match, columns are filled in the data's order.
    folded = {header.casefold(): header for header in headers}
    if header_text and header_text.casefold() in folded:
        return folded[header_text.casefold()]
    return headers[index] if index < len(headers) else None


def set_cell_text(frame: Any, text: str) -> None:
    """Replace a text frame's text, keeping the formatting of its first run (or its end-of-paragraph)."""
    paragraph = frame.paragraphs[0]
    for extra in frame.paragraphs[1:]:
        extra._p.getparent().remove(extra._p)
    runs = paragraph.runs
    if runs:
        runs[0].text = text
        for run in runs[1:]:
            run._r.getparent().remove(run._r)
        return
    run = paragraph.add_run()
    run.text = text
    end = paragraph._p.find("{http://schemas.openxmlformats.org/drawingml/2006/main}endParaRPr")
    if end is not None:
        properties = copy.deepcopy(end)
        properties.tag = "{http://schemas.openxmlformats.org/drawingml/2006/main}rPr"
        run._r.insert(0, properties)


def place_picture(shape: Any, container: Any, image: bytes, size: tuple[int, int]) -> None:
    """Put a picture where `shape` is, fitted inside its box with the aspect ratio kept, centred."""
    left, top, width, height = shape.left, shape.top, shape.width, shape.height
    if None in (left, top, width, height):
        raise HandlerError(f"shape {shape.name!r} has no position or size to put a picture in")
    pixels_wide, pixels_high = size
    scale = min(width / pixels_wide, height / pixels_high)
    fitted_w, fitted_h = int(pixels_wide * scale), int(pixels_high * scale)
    picture = container.add_picture(
        io.BytesIO(image), left + (width - fitted_w) // 2, top + (height - fitted_h) // 2, fitted_w, fitted_h
    )
    picture.name = shape.name
    shape._element.addprevious(picture._element)  # keep the marker's place in the z-order
    shape._element.getparent().remove(shape._element)
