"""The workbook part and its neighbours: sheet names, the date system, new sheets, calcPr, calcChain.

Edits are made on the bytes of each part (a `<sheet>` appended, one attribute set, one element cut),
so everything else in them, extensions and namespace spellings included, stays as it was.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from handlers.common.errors import SheetNotFound, UpdateFailed
from handlers.common.ooxml import Flavour, flavour_of, main_part, parse_part, relationships, sheet_parts
from handlers.xlsx.update.xml import (
    Tag,
    attributes,
    children,
    edit_attrs,
    element_end,
    escape_attr,
    find_first,
    tags,
    unescape_attr,
)

WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STYLES_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
# calcPr comes before these children of <workbook> (ECMA-376 CT_Workbook sequence).
_AFTER_CALC_PR = {
    b"oleSize", b"customWorkbookViews", b"pivotCaches", b"smartTagPr", b"smartTagTypes",
    b"webPublishing", b"fileRecoveryPr", b"webPublishObjects", b"extLst",
}  # fmt: skip
_TRUE = {b"1", b"true"}


@dataclass(slots=True)
class Sheet:
    """A worksheet: its name and part; `new` when the update creates it."""

    name: str
    part: str
    new: bool = False


@dataclass(slots=True)
class Workbook:
    """The workbook part, its relationships and the sheets the update adds."""

    part: str
    data: bytes
    rels_part: str
    rels: bytes
    flavour: Flavour
    date1904: bool
    sheets: list[Sheet]
    parts: set[str]  # every part name in the package, lower-cased
    calc_chain: str | None
    added: list[Sheet] = field(default_factory=list)
    new_styles: str | None = None  # a styles part the update adds (the workbook had none)

    @classmethod
    def read(cls, archive: zipfile.ZipFile) -> Workbook:
        """The workbook of a package opened by `open_package`."""
        part = main_part(archive)
        folder, base = posixpath.split(part)
        rels_part = posixpath.join(folder, "_rels", f"{base}.rels")
        data = archive.read(part)
        flavour = flavour_of(parse_part(archive, part))
        properties = find_first(data, b"workbookPr")
        date1904 = properties is not None and attributes(properties.attrs).get(b"date1904", b"").lower() in _TRUE
        chain = next(
            (target for kind, target in relationships(archive, part).values() if kind.endswith("/calcChain")), None
        )
        sheets = [Sheet(name, path) for name, path in sheet_parts(archive).items()]
        rels = archive.read(rels_part) if rels_part in archive.NameToInfo else b""
        names = {name.lower() for name in archive.NameToInfo}
        return cls(part, data, rels_part, rels, flavour, date1904, sheets, names, chain)

    def find(self, name: str) -> Sheet:
        """A sheet by name, matched as Excel matches names: ignoring case."""
        wanted = name.casefold()
        for sheet in self.sheets:
            if sheet.name.casefold() == wanted:
                return sheet
        listed = ", ".join(repr(sheet.name) for sheet in self.sheets)
        raise SheetNotFound(f"sheet {name!r} not found; the workbook has: {listed}"[:300])

    def add_sheet(self, name: str) -> Sheet:
        """Plan a new, empty worksheet at the end of the workbook."""
        sheets = find_first(self.data, b"sheets")
        listed = (
            []
            if sheets is None
            else [attributes(tag.attrs).get(b"name", b"") for tag, _ in children(self.data, sheets)]
        )
        # Chart sheets and dialog sheets share the namespace of names with worksheets.
        for existing in [unescape_attr(raw) for raw in listed] + [sheet.name for sheet in self.added]:
            if existing.casefold() == name.casefold():
                same = "already exists" if existing == name else f"clashes with sheet {existing!r}"
                raise UpdateFailed(f"sheet {name!r} {same}: Excel sheet names ignore case")
        folder = posixpath.join(posixpath.dirname(self.part), "worksheets")
        number = 1
        while posixpath.join(folder, f"sheet{number}.xml").lower() in self.parts:
            number += 1
        sheet = Sheet(name, posixpath.join(folder, f"sheet{number}.xml"), new=True)
        self.parts.add(sheet.part.lower())
        self.sheets.append(sheet)
        self.added.append(sheet)
        return sheet

    def add_styles(self) -> str:
        """Plan a styles part for a workbook that has none; its path."""
        self.new_styles = posixpath.join(posixpath.dirname(self.part), "styles.xml")
        self.parts.add(self.new_styles.lower())
        return self.new_styles

    def _new_parts(self) -> list[tuple[str, str, str]]:
        """(part, relationship type, content type) of every part the update adds, sheets first."""
        parts = [(sheet.part, "worksheet", WORKSHEET_TYPE) for sheet in self.added]
        return parts + ([(self.new_styles, "styles", STYLES_TYPE)] if self.new_styles else [])

    def empty_sheet(self) -> bytes:
        """The XML of a new worksheet, in the workbook's own flavour."""
        return (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="' + self.flavour.spreadsheet.encode() + b'"><sheetData/></worksheet>'
        )

    def render(self, recalculate: bool) -> bytes:
        """The workbook part with the new sheets and, if asked, `fullCalcOnLoad` in calcPr."""
        data = self.data
        if self.added:
            data = self._with_new_sheets(data)
        if recalculate:
            data = _with_full_calc(data)
        return data

    def _with_new_sheets(self, data: bytes) -> bytes:
        sheets = find_first(data, b"sheets")
        if sheets is None:
            raise UpdateFailed("the workbook part has no sheet list")
        ids = [attributes(tag.attrs).get(b"sheetId", b"0") for tag, _ in children(data, sheets)]
        next_id = max((int(i) for i in ids if i.isdigit()), default=0) + 1
        rel_prefix = _prefix_of(data, self.flavour.relationships)
        items = b""
        for offset, (sheet, rel_id) in enumerate(zip(self.added, self._new_rel_ids(), strict=False)):
            declare = b"" if rel_prefix else b' xmlns:r="' + self.flavour.relationships.encode() + b'"'
            id_attr = (rel_prefix or b"r") + b':id="' + rel_id.encode() + b'"'
            items += (
                b"<" + sheets.prefix + b'sheet name="' + escape_attr(sheet.name) + b'" sheetId="'
                + str(next_id + offset).encode() + b'" ' + id_attr + declare + b"/>"
            )  # fmt: skip
        return _append_child(data, sheets, items)

    def _new_rel_ids(self) -> list[str]:
        used = {
            attributes(tag.attrs).get(b"Id", b"").decode() for tag in tags(self.rels) if tag.local == b"Relationship"
        }
        ids: list[str] = []
        number = 1
        while len(ids) < len(self._new_parts()):
            if f"rId{number}" not in used:
                ids.append(f"rId{number}")
            number += 1
        return ids

    def render_rels(self) -> bytes:
        """The workbook's relationships with the new parts and without the calculation chain."""
        data = self.rels
        if self.calc_chain is not None:
            data = _without(data, b"Relationship", lambda a: a.get(b"Type", b"").endswith(b"/calcChain"))
        root = find_first(data, b"Relationships")
        if root is None or not self._new_parts():
            return data
        items = b""
        for (part, kind, _), rel_id in zip(self._new_parts(), self._new_rel_ids(), strict=True):
            target = posixpath.relpath(part, posixpath.dirname(self.part))
            rel_type = f"{self.flavour.relationships}/{kind}"
            items += f'<Relationship Id="{rel_id}" Type="{rel_type}" Target="{target}"/>'.encode()
        return _append_child(data, root, items)

    def render_content_types(self, data: bytes) -> bytes:
        """[Content_Types].xml with the new sheets and without the calculation chain."""
        if self.calc_chain is not None:
            chain = f"/{self.calc_chain}".lower().encode()
            data = _without(data, b"Override", lambda a: a.get(b"PartName", b"").lower() == chain)
        root = find_first(data, b"Types")
        if root is None:
            return data
        items = b"".join(
            f'<Override PartName="/{part}" ContentType="{kind}"/>'.encode() for part, _, kind in self._new_parts()
        )
        return _append_child(data, root, items) if items else data


def _with_full_calc(data: bytes) -> bytes:
    calc = find_first(data, b"calcPr")
    if calc is not None:
        new = edit_attrs(calc.attrs, {b"fullCalcOnLoad": b"1"})
        return data[: calc.start] + b"<" + calc.qname + new + (b"/>" if calc.empty else b">") + data[calc.end :]
    root = next(tag for tag in tags(data) if not tag.closing)
    element = b"<" + root.prefix + b'calcPr fullCalcOnLoad="1"/>'
    for child, _ in children(data, root):
        if child.local in _AFTER_CALC_PR and child.prefix == root.prefix:
            return data[: child.start] + element + data[child.start :]
    return _append_child(data, root, element)


def _append_child(data: bytes, parent: Tag, items: bytes) -> bytes:
    """`data` with `items` added as the last children of `parent`."""
    if parent.empty:
        opened = b"<" + parent.qname + parent.attrs + b">" + items + b"</" + parent.qname + b">"
        return data[: parent.start] + opened + data[parent.end :]
    close = data.rfind(b"</", 0, element_end(data, parent))
    return data[:close] + items + data[close:]


def _without(data: bytes, local: bytes, matches: Callable[[dict[bytes, bytes]], bool]) -> bytes:
    """`data` without the elements named `local` whose attributes satisfy `matches`."""
    for tag in reversed(list(tags(data))):
        if tag.local == local and not tag.closing and matches(attributes(tag.attrs)):
            data = data[: tag.start] + data[element_end(data, tag) :]
    return data


def _prefix_of(data: bytes, namespace: str) -> bytes:
    """The prefix the root element binds to `namespace`, or empty if it binds none."""
    root = next(tag for tag in tags(data) if not tag.closing)
    for name, value in attributes(root.attrs).items():
        if name.startswith(b"xmlns:") and value.decode(errors="replace") == namespace:
            return name[6:]
    return b""
