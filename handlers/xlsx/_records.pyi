"""The C accelerator of `cells.records` (handlers/xlsx/_records.c), built by setup.py."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from handlers.xlsx.cells import JsonValue

EXACT_FLOAT_INT: int  # cells._EXACT_FLOAT_INT, as an int
ISO_TEXTS: int  # cells._ISO_TEXTS

def records(
    headers: list[str], rows: Iterable[Sequence[Any]], to_json: Callable[[Any], JsonValue], /
) -> list[dict[str, JsonValue]]:
    """`cells.python_records(headers, rows)` in C; `to_json` converts the kinds it does not convert itself."""
