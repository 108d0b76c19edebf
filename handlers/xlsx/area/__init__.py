"""Size pre-checks for the workbook formats other than .xlsx, each counting what calamine allocates.

calamine allocates a sheet's whole used rectangle at once and aborts the worker when that fails
(tafia/calamine#693); the .xlsx check is handlers/xlsx/sheet_area.py (run sheet by sheet). calamine
reads every sheet of an .ods or .xls when it opens the workbook, so these run before it is opened, on
every sheet (an .xlsb's worksheets too, although calamine reads those one at a time).
"""

from __future__ import annotations

import zipfile

from handlers.xlsx.area.ods import check_ods_area
from handlers.xlsx.area.xls import check_xls_area
from handlers.xlsx.area.xlsb import check_xlsb_area
from handlers.xlsx.formats import Format

__all__ = ["check_before_opening"]


def check_before_opening(kind: Format, data: bytes, archive: zipfile.ZipFile | None, max_cells: int) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for a sheet of the file."""
    if kind is Format.XLS:
        check_xls_area(data, max_cells)
    elif kind is Format.XLSB and archive is not None:
        check_xlsb_area(archive, max_cells)
    elif kind is Format.ODS and archive is not None:
        check_ods_area(archive, max_cells)
