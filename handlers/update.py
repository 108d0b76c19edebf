"""The /api/v1/update handler: write values, blocks, rows and sheets into an Excel workbook.

The workbook is edited in place (`handlers.xlsx.update`): only the parts the updates must change are
rewritten, and inside them only what the updates touch; every other part is copied as it was.
docs/handlers.md says what is kept and what changes.
"""

from __future__ import annotations

import zipfile
from typing import Any

from handlers.common.payload import check_keys, one_source, require_mapping
from handlers.common.safety import Limits, check_parts, open_zip
from handlers.common.sources import check_output, deliver, load_source
from handlers.xlsx.formats import check_workbook_kind, main_content_type, refuse_before_opening
from handlers.xlsx.update import update_workbook
from handlers.xlsx.update.operations import Operation, parse_updates
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
    refuse_before_opening(source.data, source.name)
    archive = open_zip(source.data, "xlsx", limits, name=source.name)
    # What kind of file it is comes first: a Numbers or OpenDocument file has parts (plists with a
    # DTD) that the XML-bomb check would otherwise refuse under a misleading name.
    check_workbook_kind(archive, source.name)
    check_parts(archive, source.data, source.name)
    output = update_workbook(archive, source.name, operations, report_progress)
    report_progress(95, "Saving the workbook")
    content_type = XLSM_TYPE if _has_macros(archive) else XLSX_TYPE
    result = deliver(payload, output, source.name, content_type, source)
    result["updates_applied"] = len(operations)
    return {"success": True, "message": "Workbook updated successfully", "data": result}


def _has_macros(archive: zipfile.ZipFile) -> bool:
    if "macroEnabled" in (main_content_type(archive) or ""):
        return True
    return any(name.lower().endswith("vbaproject.bin") for name in archive.NameToInfo)


def _parse(payload: object) -> list[Operation]:
    body = require_mapping(payload, "payload")
    check_keys(body, PAYLOAD_FIELDS, "")
    one_source(body, "sharepoint_excel_url", "excel_base64")
    check_output(body, can_overwrite=True, source_url_key="sharepoint_excel_url")
    return parse_updates(body.get("updates"))
