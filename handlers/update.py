"""The /api/v1/update handler: write values, blocks, rows and sheets into an Excel workbook.

openpyxl rewrites the whole file. It keeps cell values, styles, number formats, formulas, merged
cells, defined names, tables, data validation, conditional formatting, images and (simplified)
charts; it drops shapes and text boxes, slicers, sparklines, form controls and the cached results of
formulas (the file is marked to recalculate when Excel opens it). docs/handlers.md has the list.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from openpyxl import load_workbook

from handlers.common.errors import InvalidFile
from handlers.common.payload import check_keys, one_source, require_mapping
from handlers.common.safety import Limits, open_package
from handlers.common.sources import check_output, deliver, load_source
from handlers.xlsx.update_ops import Operation, apply, parse_updates
from jobs import report_progress

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.12"
PAYLOAD_FIELDS = {"sharepoint_excel_url", "excel_base64", "file_name", "updates", "output"}


def validate(payload: dict[str, Any]) -> None:
    """Check an update payload's structure; raises PayloadError naming the field."""
    _parse(payload)


def update(payload: dict[str, Any]) -> dict[str, Any]:
    """Apply the updates in order and return and/or upload the workbook."""
    operations = _parse(payload)
    limits = Limits.from_env()
    report_progress(2, "Loading the workbook")
    source = load_source(payload, "sharepoint_excel_url", "excel_base64", "workbook.xlsx", limits)
    archive = open_package(source.data, "xlsx", limits, name=source.name)
    macros = "xl/vbaProject.bin" in archive.NameToInfo
    workbook = _load(source.data, source.name, macros)
    for index, operation in enumerate(operations):
        report_progress(10 + 80 * index / len(operations), f"Applying update {index + 1}/{len(operations)}")
        apply(workbook, operation)
    # openpyxl cannot compute formulas and writes them without cached results: ask Excel to recalculate.
    workbook.calculation.fullCalcOnLoad = True
    output = io.BytesIO()
    workbook.save(output)
    report_progress(95, "Saving the workbook")
    content_type = XLSM_TYPE if macros else XLSX_TYPE
    result = deliver(payload, output.getvalue(), source.name, content_type, source)
    result["updates_applied"] = len(operations)
    return {"success": True, "message": "Workbook updated successfully", "data": result}


def _parse(payload: object) -> list[Operation]:
    body = require_mapping(payload, "payload")
    check_keys(body, PAYLOAD_FIELDS, "")
    one_source(body, "sharepoint_excel_url", "excel_base64")
    check_output(body, can_overwrite=True, source_url_key="sharepoint_excel_url")
    return parse_updates(body.get("updates"))


def _load(data: bytes, name: str, macros: bool) -> Any:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about every extension it drops; what is dropped is documented instead.
            warnings.simplefilter("ignore")
            return load_workbook(io.BytesIO(data), keep_vba=macros, keep_links=True, rich_text=True)
    except Exception as error:  # openpyxl raises KeyError, TypeError... for damaged parts
        raise InvalidFile(f"{name} cannot be read as an Excel workbook: {error}") from None
