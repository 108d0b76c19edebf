"""Date number formats for written dates: styles.xml gains one cell format per style that lacks one.

Everything else in the styles part stays byte for byte; a new `<xf>` is a copy of the cell's current
one with a built-in date format (14 `m/d/yyyy`, 22 `m/d/yyyy h:mm`, shown in the reader's locale), so
the cell keeps its font, fill, border and alignment.
"""

from __future__ import annotations

import re

from handlers.xlsx.update.xml import Tag, attributes, children, edit_attrs, find_first, tags, unescape_attr

DATE_FORMAT, DATETIME_FORMAT = b"14", b"22"
# Built-in number formats that are dates or times (ECMA-376 18.8.30, with the East Asian ones).
_BUILTIN_DATES = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}
_NOT_DATE_PARTS = re.compile(r'"[^"]*"|\\.|\[(?![hms]+\])[^\]]*\]|_.|\*.')
_DATE_CHARS = re.compile(r"[dmyhs]", re.IGNORECASE)


class Styles:
    """The cell formats of a workbook, able to add a date variant of one."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._formats = _custom_formats(data)
        self._cell_xfs = find_first(data, b"cellXfs")
        self._xfs: list[tuple[Tag, int]] = [] if self._cell_xfs is None else list(children(data, self._cell_xfs))
        self._added: list[bytes] = []
        self._variants: dict[tuple[int, bool], int] = {}

    @property
    def changed(self) -> bool:
        """Whether a cell format was added."""
        return bool(self._added)

    def date_style(self, style: int, with_time: bool) -> int | None:
        """A style index like `style` whose number format shows a date; None if the part has no cellXfs."""
        if self._cell_xfs is None or not self._xfs:
            return None
        style = style if 0 <= style < len(self._xfs) else 0
        tag, end = self._xfs[style]
        if self._is_date(tag):
            return style
        key = (style, with_time)
        if key not in self._variants:
            xf = self._data[tag.start : end]
            number_format = DATETIME_FORMAT if with_time else DATE_FORMAT
            new_attrs = edit_attrs(tag.attrs, {b"numFmtId": number_format, b"applyNumberFormat": b"1"})
            self._added.append(b"<" + tag.qname + new_attrs + xf[tag.end - tag.start - (2 if tag.empty else 1) :])
            self._variants[key] = len(self._xfs) + len(self._added) - 1
        return self._variants[key]

    def _is_date(self, xf: Tag) -> bool:
        raw = attributes(xf.attrs).get(b"numFmtId", b"0")
        number_format = int(raw) if raw.isdigit() else 0
        if number_format in _BUILTIN_DATES:
            return True
        code = self._formats.get(number_format)
        return code is not None and _DATE_CHARS.search(_NOT_DATE_PARTS.sub("", code)) is not None

    def render(self) -> bytes:
        """The styles part with the added cell formats appended to cellXfs (and its count raised)."""
        assert self._cell_xfs is not None
        parent = self._cell_xfs
        count = str(len(self._xfs) + len(self._added)).encode()
        attrs = edit_attrs(parent.attrs, {b"count": count}) if b"count" in attributes(parent.attrs) else parent.attrs
        added = b"".join(self._added)
        if parent.empty:
            opening = b"<" + parent.qname + attrs + b">" + added + b"</" + parent.qname + b">"
            return self._data[: parent.start] + opening + self._data[parent.end :]
        close = self._xfs[-1][1]
        opening = b"<" + parent.qname + attrs + b">"
        return self._data[: parent.start] + opening + self._data[parent.end : close] + added + self._data[close:]


def _custom_formats(data: bytes) -> dict[int, str]:
    formats: dict[int, str] = {}
    for tag in tags(data):
        if tag.local == b"numFmt" and not tag.closing:
            found = attributes(tag.attrs)
            raw = found.get(b"numFmtId", b"")
            if raw.isdigit():
                formats[int(raw)] = unescape_attr(found.get(b"formatCode", b""))
    return formats


def minimal_styles(namespace: str) -> bytes:
    """The smallest valid styles part (one font, the two required fills, one border, one cell format)."""
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="' + namespace.encode() + b'">'
        b'<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        b'<fills count="2"><fill><patternFill patternType="none"/></fill>'
        b'<fill><patternFill patternType="gray125"/></fill></fills>'
        b'<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        b'<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        b'<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        b'<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    )
