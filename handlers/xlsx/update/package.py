"""Write the updated package: changed parts rewritten, every other zip entry copied as it was.

Entries keep their names, order, dates, compression method and bytes; the sheet parts being written
are streamed through `rewrite_sheet`, so no sheet is ever held whole in memory. calcChain.xml (Excel's
cache of the order it last computed formulas in) is dropped with its relationship and content type
when cells are written: a chain naming cells that no longer hold formulas makes Excel "repair" the
file, and Excel rebuilds a missing chain silently.
"""

from __future__ import annotations

import io
import shutil
import sys
import time
import zipfile
import zlib
from collections.abc import Callable

from handlers.common.errors import InvalidFile
from handlers.common.ooxml import relationships
from handlers.xlsx.update.plan import Planner, SheetPlan, open_sheet
from handlers.xlsx.update.sheet import rewrite_sheet
from handlers.xlsx.update.styles import Styles, minimal_styles
from handlers.xlsx.update.workbook import Workbook

CONTENT_TYPES = "[Content_Types].xml"
_COPY_CHUNK = 1024 * 1024
# Deflate level 3, not zlib's default 6: on a 120 MB LibreOffice sheet it compresses 3.4x faster for
# a 12% larger file (bench/bench_update.py), and compression is most of an update's time.
_LEVEL = 3
_LEVEL_ATTRIBUTE = "compress_level" if sys.version_info >= (3, 13) else "_compresslevel"
Progress = Callable[[float, str], None]


def write_package(archive: zipfile.ZipFile, planner: Planner, progress: Progress) -> bytes:
    """The updated package as bytes."""
    book = planner.book
    writes_cells = any(plan.writes or plan.moves for plan in planner.plans.values())
    if not writes_cells:
        book.calc_chain = None  # no formula cell changed: the chain stays valid and stays
    sheets = {part: plan for part, plan in planner.plans.items() if plan.writes or plan.moves}
    styles_part, styles = _styles(archive, book, list(sheets.values()))
    fixed = _fixed_parts(archive, planner, book, writes_cells)
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=_LEVEL) as out:
        infos = [info for info in archive.infolist() if info.filename != book.calc_chain]
        # The styles part goes last when sheets are written: they may still add date formats to it.
        deferred = [info for info in infos if info.filename == styles_part and sheets]
        for number, info in enumerate(infos):
            plan = sheets.get(info.filename)
            if plan is not None:
                progress(20 + 70 * number / len(infos), f"Writing sheet {plan.sheet.name}")
                with out.open(_clone(info), "w", force_zip64=True) as target:
                    rewrite_sheet(open_sheet(archive, book, plan.sheet), plan, styles, target.write)
            elif info.filename in fixed:
                out.writestr(_clone(info), fixed[info.filename])
            elif info not in deferred:
                _copy(archive, info, out)
        for sheet in book.added:
            with out.open(_new_entry(sheet.part), "w") as target:
                plan = planner.plans.get(sheet.part)
                rewrite_sheet(open_sheet(archive, book, sheet), plan or SheetPlan(sheet), styles, target.write)
        if book.new_styles is not None and styles is not None:
            out.writestr(_new_entry(book.new_styles), styles.render())
        for info in deferred:
            if styles is not None and styles.changed:
                out.writestr(_clone(info), styles.render())
            else:
                _copy(archive, info, out)
    return output.getvalue()


def _fixed_parts(archive: zipfile.ZipFile, planner: Planner, book: Workbook, writes_cells: bool) -> dict[str, bytes]:
    """The small parts the update edits, already edited: workbook, its rels, content types, tables."""
    fixed: dict[str, bytes] = {}
    if book.added or writes_cells:
        fixed[book.part] = book.render(recalculate=writes_cells)
    if book.added or book.calc_chain or book.new_styles:
        fixed[book.rels_part] = book.render_rels()
        if CONTENT_TYPES in archive.NameToInfo:
            fixed[CONTENT_TYPES] = book.render_content_types(archive.read(CONTENT_TYPES))
    for plan in planner.plans.values():
        for table in plan.tables or []:
            if table.changed:
                fixed[table.part] = table.render()
    return fixed


def _styles(archive: zipfile.ZipFile, book: Workbook, plans: list[SheetPlan]) -> tuple[str | None, Styles | None]:
    """The styles part and its cell formats; a new styles part if the workbook has none and needs one."""
    part = _styles_part(archive, book)
    if part is not None:
        return part, Styles(archive.read(part))
    if any(write.date is not None for plan in plans for write in plan.writes.values()):
        book.add_styles()  # a date needs a date format, and a format needs a styles part
        return None, Styles(minimal_styles(book.flavour.spreadsheet))
    return None, None


def _styles_part(archive: zipfile.ZipFile, book: Workbook) -> str | None:
    for kind, target in relationships(archive, book.part).values():
        if kind.endswith("/styles") and target in archive.NameToInfo:
            return target
    return None


def _new_entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, time.localtime()[:6])
    entry.compress_type = zipfile.ZIP_DEFLATED
    return _clone(entry)


def _clone(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A new entry with the same name, date, method and attributes as `info`."""
    clone = zipfile.ZipInfo(info.filename, info.date_time)
    clone.compress_type = info.compress_type if info.compress_type == zipfile.ZIP_STORED else zipfile.ZIP_DEFLATED
    clone.external_attr = info.external_attr
    clone.create_system = info.create_system
    clone.comment = info.comment
    setattr(clone, _LEVEL_ATTRIBUTE, _LEVEL)  # ZipFile.open(..., "w") takes the level from the entry
    return clone


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipFile) -> None:
    clone = _clone(info)
    clone.file_size = info.file_size
    try:
        with archive.open(info) as source, out.open(clone, "w", force_zip64=info.file_size > 2**31) as target:
            shutil.copyfileobj(source, target, _COPY_CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise InvalidFile(
            f"the file is damaged: its part {info.filename} has corrupt data or a wrong checksum"
        ) from None
