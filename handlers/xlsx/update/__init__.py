"""Lossless workbook update: the package's XML parts are edited in place, everything else is copied.

`operations` parses the payload, `plan` turns operations into per-sheet changes, `sheet` streams a
sheet part through them (`rows` and `cells` split it, `shared` writes out shared formulas whose master
is overwritten), `tables`, `workbook` and `styles` edit the few other parts that must change,
`package` writes the zip; which files update takes is told by `handlers.xlsx.formats`, with extract's.
"""

from __future__ import annotations

import zipfile
import zlib

from handlers.common.errors import InvalidFile
from handlers.xlsx.formats import check_workbook_kind
from handlers.xlsx.update.operations import Operation
from handlers.xlsx.update.package import Progress, write_package
from handlers.xlsx.update.plan import Planner
from handlers.xlsx.update.workbook import Workbook


def update_workbook(archive: zipfile.ZipFile, name: str, operations: list[Operation], progress: Progress) -> bytes:
    """Apply `operations` in order to the workbook in `archive` and return the new package."""
    check_workbook_kind(archive, name)
    try:
        planner = Planner(archive, Workbook.read(archive))
        for index, operation in enumerate(operations):
            progress(5 + 15 * index / len(operations), f"Planning update {index + 1}/{len(operations)}")
            planner.apply(operation)
        return write_package(archive, planner, progress)
    except InvalidFile as error:
        message = str(error)
        if not message.startswith("the file "):
            raise
        raise InvalidFile(f"{name} {message.removeprefix('the file ')}"[:300]) from None
    except (zipfile.BadZipFile, zlib.error, EOFError):
        # A part whose compressed data or checksum is wrong shows only when it is inflated.
        raise InvalidFile(f"{name} is damaged: a part of its zip has corrupt data or a wrong checksum") from None
