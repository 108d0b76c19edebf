"""The /api/v1/extract handler: values, tables and pictures out of an Excel workbook."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from python_calamine import CalamineWorkbook

from handlers.common.errors import PayloadError, SheetNotFound
from handlers.common.ooxml import sheet_parts
from handlers.common.payload import check_keys, one_source, require_list, require_mapping, require_str
from handlers.common.safety import Limits, check_parts, open_zip
from handlers.common.sources import load_source
from handlers.xlsx.area import check_before_opening
from handlers.xlsx.extract_sheet import extract_sheet
from handlers.xlsx.formats import Format, detect, is_zip, open_workbook, worksheet_names, zip_format
from handlers.xlsx.grid import Grid
from handlers.xlsx.images import MediaCache, sheet_images
from handlers.xlsx.rules import Rule, TableRule, parse_rules
from handlers.xlsx.sheet_area import check_sheet_area
from jobs import report_progress

PAYLOAD_FIELDS = {"sharepoint_excel_url", "excel_base64", "file_name", "sheet_names", "config"}


@dataclass(frozen=True, slots=True)
class ExtractRequest:
    """What to extract: the sheets asked for (None: all) and each sheet's rules."""

    sheet_names: list[str] | None
    rules: dict[str, list[Rule]]


def validate(payload: dict[str, Any]) -> None:
    """Check an extract payload's structure; raises PayloadError naming the field."""
    parse_request(payload, "")


def extract(payload: dict[str, Any]) -> dict[str, Any]:
    """Extract key/value pairs, tables and images from the workbook, sheet by sheet."""
    request = parse_request(payload, "", check_content=False)  # decoding checks the base64
    limits = Limits.from_env()
    report_progress(2, "Loading the workbook")
    source = load_source(payload, "sharepoint_excel_url", "excel_base64", "workbook.xlsx", limits)
    data = extract_workbook(source.data, request, limits, source.name, progress=(5, 95))
    return {"success": True, "message": "Data extracted successfully", "data": data}


def parse_request(payload: object, prefix: str, *, check_content: bool = True) -> ExtractRequest:
    """Parse an extract payload; `prefix` places its fields when nested (as `excel.` in merge)."""
    body = require_mapping(payload, prefix.rstrip(".") or "payload")
    check_keys(body, PAYLOAD_FIELDS, prefix.rstrip("."))
    sources = (f"{prefix}sharepoint_excel_url", f"{prefix}excel_base64")
    one_source(_prefixed(body, prefix), *sources, check_content=check_content)
    names = None
    if body.get("sheet_names") is not None:
        field = f"{prefix}sheet_names"
        names = [
            require_str(name, f"{field}[{index}]")
            for index, name in enumerate(require_list(body["sheet_names"], field))
        ]
        if not names:
            raise PayloadError(f"{field}: must list at least one sheet (leave it out for all sheets)")
    return ExtractRequest(names, _parse_config(body.get("config"), f"{prefix}config"))


def extract_workbook(
    data: bytes, request: ExtractRequest, limits: Limits, name: str, *, progress: tuple[float, float]
) -> dict[str, Any]:
    """The handler's `data` object for a workbook given as bytes (.xlsx/.xlsm, .xlsb, .xls or .ods)."""
    book = _open(data, request, limits, name)
    sheets = _chosen_sheets(request, book.sheet_names)
    notes: list[str] = []
    results: dict[str, Any] = {}
    start, end = progress
    for index, sheet in enumerate(sheets):
        report_progress(
            start + (end - start) * index / len(sheets), f"Extracting sheet {sheet!r} ({index + 1}/{len(sheets)})"
        )
        results[sheet] = _extract_one(book, sheet, request.rules.get(sheet, []), limits, notes)
    report_progress(end, "Extraction finished")
    return {"sheets": results, "sheet_names": sheets, "warnings": notes}


@dataclass(frozen=True, slots=True)
class _Book:
    """An opened workbook: calamine's reader, and for OOXML the package and each sheet's part."""

    format: Format
    workbook: CalamineWorkbook
    archive: zipfile.ZipFile | None
    parts: dict[str, str]
    sheet_names: list[str]
    media: MediaCache | None  # pictures read once per workbook, however many anchors show them


def _open(data: bytes, request: ExtractRequest, limits: Limits, name: str) -> _Book:
    # Every zip-based format goes through the zip-bomb and DTD checks before calamine inflates it;
    # what kind of package it is comes first, so that a file of another kind is named as such.
    archive = open_zip(data, "xlsx", limits, name=name) if is_zip(data) else None
    kind = detect(data, name) if archive is None else zip_format(archive, name)
    if archive is not None:
        check_parts(archive, data, name)
    needs_tables = any(
        isinstance(rule, TableRule) and rule.excel_table for rules in request.rules.values() for rule in rules
    )
    check_before_opening(kind, data, archive, limits.max_sheet_cells)
    workbook = open_workbook(data, name, load_tables=needs_tables and kind is Format.XLSX)
    if kind is Format.XLSX and archive is not None:
        parts = sheet_parts(archive)
        return _Book(kind, workbook, archive, parts, list(parts), MediaCache(archive))
    return _Book(kind, workbook, archive, {}, worksheet_names(workbook), None)


def _extract_one(book: _Book, sheet: str, rules: list[Rule], limits: Limits, notes: list[str]) -> dict[str, Any]:
    part = book.parts.get(sheet)
    if book.archive is not None and part is not None:
        check_sheet_area(book.archive, part, sheet, limits.max_sheet_cells)
    grid = Grid.read(book.workbook, sheet)
    return extract_sheet(sheet, grid, rules, book.workbook, lambda: _images(book, sheet, notes), notes)


def _images(book: _Book, sheet: str, notes: list[str]) -> list[dict[str, Any]]:
    part = book.parts.get(sheet)
    if book.archive is None or book.media is None or part is None:
        notes.append(f"sheet {sheet!r}: pictures are read from .xlsx/.xlsm workbooks only, not from .{book.format}")
        return []
    return sheet_images(book.archive, part, book.media)


def _chosen_sheets(request: ExtractRequest, available: list[str]) -> list[str]:
    wanted = request.sheet_names if request.sheet_names is not None else available
    for sheet in [*wanted, *request.rules]:
        if sheet not in available:
            raise SheetNotFound(f"sheet {sheet!r} not found; the workbook has: {', '.join(map(repr, available))}")
    return wanted


def _parse_config(value: object, field: str) -> dict[str, list[Rule]]:
    if value is None:
        return {}
    config = require_mapping(value, field)
    check_keys(config, {"sheets"}, field)
    sheets = require_mapping(config.get("sheets", {}), f"{field}.sheets")
    rules: dict[str, list[Rule]] = {}
    for sheet, sheet_config in sheets.items():
        where = f"{field}.sheets.{sheet}"
        body = require_mapping(sheet_config, where)
        check_keys(body, {"extraction_rules"}, where)
        rules[sheet] = parse_rules(body.get("extraction_rules", []), f"{where}.extraction_rules")
    return rules


def _prefixed(body: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in body.items()}
