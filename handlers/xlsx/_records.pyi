"""The extract's C accelerator (handlers/xlsx/_records.c, _cell_scan.c), built by setup.py."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from handlers.xlsx.cells import JsonValue

EXACT_FLOAT_INT: int  # cells._EXACT_FLOAT_INT, as an int
ISO_TEXTS: int  # cells._ISO_TEXTS

def records(
    headers: list[str], rows: Iterable[Sequence[Any]], to_json: Callable[[Any], JsonValue], /
) -> list[dict[str, JsonValue]]:
    """`cells.python_records(headers, rows)` in C; `to_json` converts the kinds it does not convert itself."""

def scan_cells(chunk: bytes, letters: int, digits: int, /) -> tuple[int, int, bool]:
    """`sheet_area._Bound.python_feed(chunk)` from that bound: the bound after it, and whether a cell is odd."""
