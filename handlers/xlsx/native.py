"""The extract's C accelerator, when it is built: `records` and `scan_cells`, else None for each.

setup.py builds it (handlers/xlsx/_records.c and _cell_scan.c; the Makefile runs it, which needs a C
compiler and Python's headers). Where it is not built, the callers use their pure-Python references
(`cells.python_records`, `sheet_area._Bound.python_feed`), which give the same results, slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # cells imports this module
    from handlers.xlsx.cells import JsonValue

records: Callable[[list[str], Iterable[Sequence[Any]], Callable[[Any], JsonValue]], list[dict[str, JsonValue]]] | None
scan_cells: Callable[[bytes, int, int], tuple[int, int, bool]] | None
try:
    from handlers.xlsx._records import records, scan_cells
except ImportError:
    records = scan_cells = None

BUILT: Final = records is not None  # the tests require it, so that CI cannot fall back unseen
