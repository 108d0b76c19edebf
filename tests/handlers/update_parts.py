"""Helpers for the update tests: cells of a sheet part by position, zip entries, payloads."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from handlers.xlsx.update.cells import parse_row
from handlers.xlsx.update.rows import Row, SheetReader


def entries(data: bytes) -> dict[str, bytes]:
    """Every zip entry of a package, inflated."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def sheet_cells(part: bytes, name: str = "sheet") -> dict[tuple[int, int], bytes]:
    """(0-based row, column) -> the cell's XML, positions counted as Excel counts implicit ones."""
    cells: dict[tuple[int, int], bytes] = {}
    for row in sheet_rows(part, name):
        for cell in parse_row(row.data, name).cells:
            cells[row.number - 1, cell.col] = cell.data
    return cells


def sheet_rows(part: bytes, name: str = "sheet") -> Iterator[Row]:
    """The rows of a sheet part."""
    for piece in SheetReader(iter([part]), name).rows_after_head():
        if isinstance(piece, Row):
            yield piece


def payload(data: bytes, updates: list[dict[str, Any]], name: str = "book.xlsx") -> dict[str, Any]:
    """An update payload for an inline workbook."""
    return {"excel_base64": base64.b64encode(data).decode("ascii"), "file_name": name, "updates": updates}


def output_file(result: dict[str, Any]) -> bytes:
    """The workbook an update returned."""
    encoded: str = result["data"]["file"]["base64"]
    return base64.b64decode(encoded)
