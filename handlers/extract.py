"""The /api/v1/extract handler: values, tables and pictures out of an Excel workbook."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from handlers.common.errors import InvalidFile, PayloadError, SheetNotFound
from handlers.common.ooxml import sheet_parts
from handlers.common.payload import check_keys, one_source, require_list, require_mapping, require_str
from handlers.common.safety import Limits, open_package
from handlers.common.sources import load_source
from handlers.xlsx.extract_sheet import extract_sheet
from handlers.xlsx.grid import Grid
from handlers.xlsx.images import sheet_images
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
    request = parse_request(payload, "")
    limits = Limits.from_env()
    report_progress(2, "Loading the workbook")
    source = load_source(payload, "sharepoint_excel_url", "excel_base64", "workbook.xlsx", limits)
    data = extract_workbook(source.data, request, limits, source.name, progress=(5, 95))
    return {"success": True, "message": "Data extracted successfully", "data": data}


def parse_request(payload: object, prefix: str) -> ExtractRequest:
    """Parse an extract payload; `prefix` places its fields when nested (as `excel.` in merge)."""
    body = require_mapping(payload, prefix.rstrip(".") or "payload")
    check_keys(body, PAYLOAD_FIELDS, prefix.rstrip("."))
    one_source(_prefixed(body, prefix), f"{prefix}sharepoint_excel_url", f"{prefix}excel_base64")
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
    """The handler's `data` object for a workbook given as bytes."""
    archive = open_package(data, "xlsx", limits, name=name)
    parts = sheet_parts(archive)
    sheets = _chosen_sheets(request, list(parts))
    workbook = _open_calamine(data, request, name)
    notes: list[str] = []
    results: dict[str, Any] = {}
    start, end = progress
    for index, sheet in enumerate(sheets):
        report_progress(
            start + (end - start) * index / len(sheets), f"Extracting sheet {sheet!r} ({index + 1}/{len(sheets)})"
        )
        results[sheet] = _extract_one(
            archive, workbook, sheet, parts[sheet], request.rules.get(sheet, []), limits, notes
        )
    report_progress(end, "Extraction finished")
    return {"sheets": results, "sheet_names": sheets, "warnings": notes}


def _extract_one(
    archive: zipfile.ZipFile,
    workbook: CalamineWorkbook,
    sheet: str,
    part: str,
    rules: list[Rule],
    limits: Limits,
    notes: list[str],
) -> dict[str, Any]:
    check_sheet_area(archive, part, sheet, limits.max_sheet_cells)
    try:
        grid = Grid.read(workbook, sheet)
    except CalamineError as error:
        raise InvalidFile(f"sheet {sheet!r} cannot be read: {error}") from None
    return extract_sheet(sheet, grid, rules, workbook, lambda: sheet_images(archive, part, notes), notes)


def _open_calamine(data: bytes, request: ExtractRequest, name: str) -> CalamineWorkbook:
    needs_tables = any(
        isinstance(rule, TableRule) and rule.excel_table for rules in request.rules.values() for rule in rules
    )
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data), load_tables=needs_tables)
    except CalamineError as error:
        raise InvalidFile(f"{name} cannot be read as an Excel workbook: {error}") from None


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
