"""Helpers for the update tests: cells of a sheet part by position, zip entries, payloads."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from handlers.xlsx.cells import column_index


def entries(data: bytes) -> dict[str, bytes]:
    """Every zip entry of a package, inflated."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@dataclass(frozen=True, slots=True)
class Row:
    """A row element of a sheet part, with its 1-based number (implicit ones counted on)."""

    number: int
    data: bytes
    explicit: bool


# Written independently of handlers.xlsx.update so that the tests do not check the code with itself.
_ROW = re.compile(rb"<((?:\w+:)?row)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(?:/>|>.*?</\1\s*>)", re.S)
_CELL = re.compile(rb"<((?:\w+:)?c)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(?:/>|>.*?</\1\s*>)", re.S)
_SHEET_DATA = re.compile(rb"<(?:\w+:)?sheetData\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?sheetData\s*>)", re.S)
_R = re.compile(rb"(?:^|\s)r\s*=\s*[\"']([A-Za-z]*)([0-9]+)[\"']")
_COL_R = re.compile(rb"(?:^|\s)r\s*=\s*[\"']\$?([A-Za-z]+)")


def sheet_rows(part: bytes, name: str = "sheet") -> Iterator[Row]:
    """The rows of a sheet part."""
    data = _SHEET_DATA.search(part)
    assert data is not None, f"{name} has no sheetData"
    number = 0
    for match in _ROW.finditer(data.group(1) or b""):
        found = _R.search(match.group(2))
        number = int(found.group(2)) if found else number + 1
        yield Row(number, match.group(0), found is not None)


def row_cells(row: bytes) -> dict[int, bytes]:
    """Column (0-based) -> the cell's XML, for one row element."""
    cells: dict[int, bytes] = {}
    col = -1
    body = row[row.index(b">") + 1 :] if not row.rstrip().endswith(b"/>") else b""
    for match in _CELL.finditer(body):
        found = _COL_R.search(match.group(2))
        col = column_index(found.group(1).decode()) if found else col + 1
        cells[col] = match.group(0)
    return cells


def sheet_cells(part: bytes, name: str = "sheet") -> dict[tuple[int, int], bytes]:
    """(0-based row, column) -> the cell's XML, positions counted as Excel counts implicit ones."""
    return {(row.number - 1, col): cell for row in sheet_rows(part, name) for col, cell in row_cells(row.data).items()}


def payload(data: bytes, updates: list[dict[str, Any]], name: str = "book.xlsx") -> dict[str, Any]:
    """An update payload for an inline workbook."""
    return {"excel_base64": base64.b64encode(data).decode("ascii"), "file_name": name, "updates": updates}


def output_file(result: dict[str, Any]) -> bytes:
    """The workbook an update returned."""
    encoded: str = result["data"]["file"]["base64"]
    return base64.b64decode(encoded)
