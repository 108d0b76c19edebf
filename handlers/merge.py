"""The /api/v1/merge handler: fill a PowerPoint template with data given inline or taken from Excel."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from handlers.common.errors import HandlerError, InvalidFile, PayloadError
from handlers.common.payload import check_keys, one_source, require_mapping
from handlers.common.safety import Limits, open_package
from handlers.common.sources import check_output, deliver, load_source
from handlers.extract import ExtractRequest, extract_workbook, parse_request
from handlers.pptx.budget import GrowthBudget
from handlers.pptx.charts import fill_chart, hidden_charts
from handlers.pptx.deck import PPTX, PPTX_READ_ERRORS, open_deck, save_deck
from handlers.pptx.fill import fill_table, marker, marker_in, place_picture, walk
from handlers.pptx.merge_data import MergeData, check_inline, combine, from_extract, from_inline
from handlers.pptx.text import Values, replace_in_shapes
from jobs import report_progress

PPTX_TYPE = PPTX.mime_type  # a merged .pptx; .pptm and .ppsx templates give their own kind
PAYLOAD_FIELDS = {"sharepoint_pptx_url", "template_base64", "file_name", "data", "excel", "output", "options"}
UNKNOWN_MODES = ("keep", "remove", "error")


@dataclass(slots=True)
class _Report:
    unknown: set[str] = field(default_factory=set)
    replaced: int = 0
    tables: int = 0
    images: int = 0
    charts: int = 0


def validate(payload: dict[str, Any]) -> None:
    """Check a merge payload's structure; raises PayloadError naming the field."""
    _parse(payload)


def merge(payload: dict[str, Any]) -> dict[str, Any]:
    """Fill the template's placeholders, tables, pictures and charts; return and/or upload the deck."""
    excel, unknown_mode = _parse(payload)
    limits = Limits.from_env()
    report_progress(2, "Loading the template")
    template = load_source(payload, "sharepoint_pptx_url", "template_base64", "template.pptx", limits)
    try:
        open_package(template.data, "pptx", limits, name=template.name)
    except RuntimeError:  # zipfile's answer to an encrypted entry, which the package checks let through
        raise InvalidFile(f"{template.name} has encrypted zip entries, which need a password to read") from None
    data = from_inline(payload.get("data") or {})
    if excel is not None:
        source = load_source(payload["excel"], "sharepoint_excel_url", "excel_base64", "workbook.xlsx", limits)
        extracted = extract_workbook(source.data, excel, limits, source.name, progress=(5, 30))
        data = combine(from_extract(extracted), data)
    deck, flavour = open_deck(template.data, template.name)
    report = _fill_deck(deck, data, unknown_mode, template.name)
    report_progress(95, "Saving the presentation")
    output = save_deck(deck, template.name)
    name = _output_name(template.name, flavour.extension)
    result = deliver(payload, output, name, flavour.mime_type, template)
    result.update(
        unknown_placeholders=sorted(report.unknown),
        replaced=report.replaced,
        slides=len(deck.slides),
        tables_filled=report.tables,
        images_placed=report.images,
        charts_updated=report.charts,
    )
    return {"success": True, "message": "Presentation merged successfully", "data": result}


def _parse(payload: object) -> tuple[ExtractRequest | None, str]:
    body = require_mapping(payload, "payload")
    check_keys(body, PAYLOAD_FIELDS, "")
    one_source(body, "sharepoint_pptx_url", "template_base64")
    if body.get("data") is not None:
        check_inline(body["data"])
    excel = parse_request(body["excel"], "excel.") if body.get("excel") is not None else None
    check_output(body, can_overwrite=False, source_url_key="sharepoint_pptx_url")
    options = require_mapping(body.get("options") or {}, "options")
    check_keys(options, {"unknown_placeholders"}, "options")
    mode = options.get("unknown_placeholders", "keep")
    if mode not in UNKNOWN_MODES:
        raise PayloadError(f"options.unknown_placeholders: expected one of {', '.join(UNKNOWN_MODES)}, got {mode!r}")
    return excel, mode


def _fill_deck(deck: Any, data: MergeData, unknown_mode: str, template_name: str) -> _Report:
    report = _Report()
    values = Values(data.values, GrowthBudget())

    def resolve(name: str, spec: str | None) -> str | None:
        text = values.resolve(name, spec)
        if text is None and unknown_mode == "remove":
            report.unknown.add(name)
            return ""
        return text

    slides = list(deck.slides)
    for number, slide in enumerate(slides, start=1):
        report_progress(30 + 65 * (number - 1) / len(slides), f"Filling slide {number}/{len(slides)}")
        try:
            _check_hidden_charts(slide, number, data, report)
            _fill_shapes(slide.shapes, number, data, values, report)
            report.replaced += replace_in_shapes(slide.shapes, resolve, report.unknown)
            if slide.has_notes_slide:
                report.replaced += replace_in_shapes(slide.notes_slide.shapes, resolve, report.unknown)
        except HandlerError:
            raise
        except PPTX_READ_ERRORS:
            # python-pptx's KeyError/AttributeError text means nothing to the user; the slide does.
            raise InvalidFile(
                f"slide {number} of {template_name} cannot be filled: a shape or a part it refers to is damaged"
            ) from None
    if unknown_mode == "error" and report.unknown:
        raise HandlerError(f"the template has placeholders without data: {', '.join(sorted(report.unknown))}")
    return report


def _check_hidden_charts(slide: Any, slide_number: int, data: MergeData, report: _Report) -> None:
    # Bound charts python-pptx cannot see would otherwise be skipped without a word.
    for shape_name, what in hidden_charts(slide._element):
        if (name := marker_in(shape_name, "chart")) and name in data.tables:
            raise HandlerError(f"chart {shape_name!r} on slide {slide_number} is {what}, which merge cannot fill")
        if name:
            report.unknown.add(f"chart:{name}")


def _fill_shapes(shapes: Any, slide_number: int, data: MergeData, values: Values, report: _Report) -> None:
    for shape, container in walk(shapes):
        if getattr(shape, "has_table", False) and shape.has_table and (name := marker(shape, "table")):
            if name in data.tables:
                fill_table(shape, data.tables[name], values)
                report.tables += 1
            else:
                report.unknown.add(f"table:{name}")
        elif getattr(shape, "has_chart", False) and shape.has_chart and (name := marker(shape, "chart")):
            if name in data.tables:
                fill_chart(shape, data.tables[name], f"chart {shape.name!r} on slide {slide_number}", values.budget)
                report.charts += 1
            else:
                report.unknown.add(f"chart:{name}")
        elif name := marker(shape, "image"):
            if name in data.images:
                place_picture(shape, container, data.images[name], _image_size(data.images[name], name))
                report.images += 1
            else:
                report.unknown.add(f"image:{name}")


def _image_size(data: bytes, name: str) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
        raise HandlerError(f"image {name!r} is not a readable picture ({error})") from None
    return width, height


def _output_name(template_name: str, extension: str) -> str:
    stem = template_name.rsplit(".", 1)[0] if "." in template_name else template_name
    return f"{stem}-merged.{extension}"
