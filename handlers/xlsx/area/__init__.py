"""Size pre-checks for the workbook formats other than .xlsx, each counting what calamine allocates.

calamine allocates a sheet's whole used rectangle at once and aborts the worker when that fails
(tafia/calamine#693); the .xlsx check is handlers/xlsx/sheet_area.py (run sheet by sheet). calamine
reads every sheet of an .ods or .xls when it opens the workbook, so these run before it is opened, on
every sheet (an .xlsb's worksheets too, although calamine reads those one at a time).

python-calamine does not go by our name for a file: it tries each reader in turn (xls, xlsx, xlsb,
ods) and reads with the first that opens it. So a zip is checked for every reading its parts allow,
not only the one they make us name: a zip that holds an .xlsx workbook and an .ods content.xml has
both counted.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable

from handlers.common.errors import InvalidFile, UnsafeFile
from handlers.common.ooxml import relationships, sheet_parts
from handlers.xlsx.area.ods import check_ods_area
from handlers.xlsx.area.xls import check_xls_area
from handlers.xlsx.area.xlsb import check_xlsb_area
from handlers.xlsx.formats import Format
from handlers.xlsx.sheet_area import check_sheet_area

__all__ = ["check_before_opening"]


def check_before_opening(kind: Format, data: bytes, archive: zipfile.ZipFile | None, max_cells: int) -> None:
    """Raise UnsafeFile when calamine would allocate more than `max_cells` cells for a sheet of the file."""
    if archive is None:
        if kind is Format.XLS:
            check_xls_area(data, max_cells)
        return
    if kind is not Format.XLSX:
        # Extract checks an .xlsx's sheets one by one as it reads them; here calamine may read them
        # although the file is named otherwise.
        for sheet, part in _ooxml_sheets(archive).items():
            check_sheet_area(archive, part, sheet, max_cells)
    if "xl/workbook.bin" in archive.NameToInfo:
        _check(check_xlsb_area, archive, max_cells, named=kind is Format.XLSB)
    if "content.xml" in archive.NameToInfo:
        _check(check_ods_area, archive, max_cells, named=kind is Format.ODS)


def _check(
    check: Callable[[zipfile.ZipFile, int], None], archive: zipfile.ZipFile, max_cells: int, *, named: bool
) -> None:
    """Run a format's check; a part it cannot read only refuses the file when it is that format
    (calamine would fail on it too, so another format's damaged leftovers are no danger)."""
    try:
        check(archive, max_cells)
    except UnsafeFile:
        raise
    except InvalidFile:
        if named:
            raise


def _ooxml_sheets(archive: zipfile.ZipFile) -> dict[str, str]:
    """Every worksheet part an OOXML reader could find (name -> part): by the package's relationships,
    by the usual workbook part's, and every part under xl/worksheets/ (named by its path)."""
    try:
        named = sheet_parts(archive)
    except InvalidFile:
        named = {}
    parts = {part: sheet for sheet, part in named.items()}
    if "xl/workbook.xml" in archive.NameToInfo:
        for kind, part in relationships(archive, "xl/workbook.xml").values():
            if kind.endswith("/worksheet"):
                parts.setdefault(part, part)
    for part in archive.NameToInfo:
        if part.startswith("xl/worksheets/") and part.endswith(".xml"):
            parts.setdefault(part, part)
    return {sheet: part for part, sheet in parts.items() if part in archive.NameToInfo}
