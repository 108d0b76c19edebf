"""Named tables (table parts) of a sheet: find one by name, and grow its range for appended records.

Only the `ref` of the `<table>` and of its `<autoFilter>` change; the rest of the part is kept as it
is. The autoFilter covers the header and the records, never the totals row.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass

from handlers.common.errors import InvalidFile
from handlers.common.ooxml import relationships
from handlers.xlsx.cells import Cell, CellRange, parse_range
from handlers.xlsx.update.xml import attributes, edit_attrs, find_first, unescape_attr


@dataclass(slots=True)
class Table:
    """A table part and the ranges the update gives it."""

    part: str
    data: bytes
    name: str
    area: CellRange  # header, records and totals rows
    header_rows: int
    totals_rows: int
    changed: bool = False

    @property
    def first_record_row(self) -> int:
        """The 0-based row of the first record."""
        return self.area.first.row + self.header_rows

    @property
    def totals_row(self) -> int:
        """The 0-based row after the last record (the totals row, if the table shows one)."""
        return self.area.last.row - self.totals_rows + 1

    def grow(self, records: int) -> None:
        """Extend the table by `records` rows above its totals row."""
        last = self.area.last
        self.area = CellRange(self.area.first, Cell(last.row + records, last.col))
        self.changed = True

    def render(self) -> bytes:
        """The table part with its new ref and autoFilter ref."""
        root = find_first(self.data, b"table")
        assert root is not None  # checked when the table was read
        data = self.data
        auto_filter = find_first(data, b"autoFilter", root.end)
        if auto_filter is not None:
            last_record = CellRange(self.area.first, Cell(self.totals_row - 1, self.area.last.col))
            new = edit_attrs(auto_filter.attrs, {b"ref": last_record.a1.encode()})
            data = (
                data[: auto_filter.start] + _retag(auto_filter.qname, new, auto_filter.empty) + data[auto_filter.end :]
            )
        new_root = edit_attrs(root.attrs, {b"ref": self.area.a1.encode()})
        return data[: root.start] + _retag(root.qname, new_root, root.empty) + data[root.end :]


def _retag(qname: bytes, attrs: bytes, empty: bool) -> bytes:
    return b"<" + qname + attrs + (b"/>" if empty else b">")


def sheet_tables(archive: zipfile.ZipFile, sheet_part: str) -> list[Table]:
    """The tables on a sheet, from its relationships."""
    found: list[Table] = []
    for rel_type, target in relationships(archive, sheet_part).values():
        if posixpath.basename(rel_type) == "table" and target in archive.NameToInfo:
            found.append(read_table(target, archive.read(target)))
    return found


def read_table(part: str, data: bytes) -> Table:
    """A table part's name and ranges."""
    root = find_first(data, b"table")
    if root is None:
        raise InvalidFile(f"the file is damaged: its part {part} is not a table")
    attrs = attributes(root.attrs)
    name = unescape_attr(attrs.get(b"displayName") or attrs.get(b"name") or b"")
    ref = unescape_attr(attrs.get(b"ref", b""))
    try:
        area = parse_range(ref if ":" in ref else f"{ref}:{ref}", "ref")
    except ValueError:
        raise InvalidFile(f"the file is damaged: table {name!r} has no valid range") from None
    return Table(
        part, data, name, area, _count(attrs.get(b"headerRowCount"), 1), _count(attrs.get(b"totalsRowCount"), 0)
    )


def _count(raw: bytes | None, default: int) -> int:
    return int(raw) if raw is not None and raw.strip().isdigit() else default
