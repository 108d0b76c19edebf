"""Split a worksheet part into its head, its rows and its tail while streaming it in chunks.

Only row boundaries are looked for (a handful of regex searches per row, in C), so untouched rows can be
passed through as their original bytes and a sheet of any size is read in bounded memory. Comments,
CDATA sections and processing instructions are stepped over whole, so text inside them is never taken
for a row. Rows without an `r` attribute take the position after the previous row, as Excel reads them.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from handlers.common.errors import InvalidFile
from handlers.xlsx.cells import MAX_ROW
from handlers.xlsx.update.xml import TOKEN

CHUNK = 1024 * 1024
_TAIL_CHUNKS = 3  # the end of a part kept to find its last value: more than any real run of empty rows
_ATTRS = rb"(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*"
_PREFIX = rb"(?:[A-Za-z_][\w.\-]*:)?"
_ROW_LEVEL = re.compile(rb"<(?:(/?)(" + _PREFIX + rb"(?:row|sheetData))(?=[\s/>])|(!--|!\[CDATA\[|\?))")
_TAG_REST = re.compile(rb"(" + _ATTRS + rb")\s*(/?)>")
_DELIMITERS = {b" ", b"\t", b"\r", b"\n", b"/", b">"}
_SPECIAL_END = {b"!--": b"-->", b"![CDATA[": b"]]>", b"?": b"?>"}
VALUE_TAG = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(?:v|f|is)[\s>]")
_R_ATTR = re.compile(rb"(?:^|\s)r\s*=\s*[\"']\s*([0-9]+)\s*[\"']")


@dataclass(frozen=True, slots=True)
class Row:
    """One `<row>` element: its 1-based number, its bytes, and whether it says its number itself."""

    number: int
    data: bytes
    explicit: bool

    @property
    def has_value(self) -> bool:
        """Whether a cell of the row holds a value or a formula (styled empty cells do not count)."""
        return VALUE_TAG.search(self.data) is not None


@dataclass(frozen=True, slots=True)
class Between:
    """Bytes between rows (whitespace, comments), passed through as they are."""

    data: bytes


Piece = Row | Between


def damaged(part: str, what: str) -> InvalidFile:
    """The error for a sheet part that is not well-formed where the update must read it."""
    return InvalidFile(f"the file is damaged: its part {part} {what}")


class SheetReader:
    """Reads a sheet part: `head()`, then `rows()`, then `tail()`, each in document order."""

    def __init__(self, chunks: Iterator[bytes], part: str) -> None:
        self._chunks = chunks
        self._part = part
        self._buffer = b""
        self._position = 0
        self._eof = False
        self._empty_sheet_data = False
        self._row_qname = b"row"

    def _refill(self, problem: str) -> int:
        """Drop the buffer before the current position and read a chunk; the shift of every offset."""
        chunk = b"" if self._eof else next(self._chunks, b"")
        if not chunk:
            self._eof = True
            raise damaged(self._part, problem)
        if len(self._buffer) - self._position > 64 * CHUNK:
            # Rows are kilobytes; one that is not closed after 64 MiB is a damaged or hostile part.
            raise damaged(self._part, "has a row larger than 64 MiB")
        shift = self._position
        self._buffer = self._buffer[shift:] + chunk
        self._position = 0
        return shift

    def head(self) -> tuple[bytes, bytes, bool]:
        """Everything before `<sheetData>`, the sheetData start tag, and whether it is `<sheetData/>`."""
        scan = 0  # tags before this offset are complete and are not sheetData
        buffer = bytearray(self._buffer)  # grows in place: a long head is not copied once per chunk
        while True:
            while (start := buffer.find(b"<", scan)) >= 0:
                match = TOKEN.match(buffer, start)
                if match is None:
                    break  # cut at the end of the buffer (or not XML: reading more tells)
                name = match.group(2)
                if name is not None and not match.group(1) and name.rpartition(b":")[2] == b"sheetData":
                    self._buffer = bytes(buffer)
                    self._position = match.end()
                    self._empty_sheet_data = match.group(4) == b"/"
                    self._row_qname = bytes(name[: -len(b"sheetData")]) + b"row"
                    head = self._buffer[: match.start()]
                    _check_prolog(head, self._part)
                    return head, self._buffer[match.start() : match.end()], self._empty_sheet_data
                scan = match.end()
            chunk = next(self._chunks, b"")
            if not chunk:
                raise damaged(self._part, "has no sheetData element")
            buffer += chunk

    def rows_after_head(self) -> Iterator[Piece]:
        """`rows()` for a reader whose head is not needed."""
        self.head()
        yield from self.rows()

    def rows(self) -> Iterator[Piece]:
        """The rows of sheetData with their numbers, and what lies between them."""
        if self._empty_sheet_data:
            return
        number = 0
        while True:
            row_start, row_end, explicit_number = self._next_row()
            if row_start < 0:
                return
            if row_start > self._position:
                yield Between(self._buffer[self._position : row_start])
            number = explicit_number if explicit_number is not None else number + 1
            if not 1 <= number <= MAX_ROW:
                raise damaged(self._part, f"has a row numbered {number} (rows are 1 to {MAX_ROW})")
            yield Row(number, self._buffer[row_start:row_end], explicit_number is not None)
            self._position = row_end

    def _next_row(self) -> tuple[int, int, int | None]:
        """Find the next row: (start, end, its r); (-1, -1, None) at `</sheetData>`."""
        return self._next_row_fast() or self._next_row_slow()

    def _next_row_fast(self) -> tuple[int, int, int | None] | None:
        """The usual case in C-speed finds: the next tag is a row whose content has no comment or CDATA."""
        buffer, qname = self._buffer, self._row_qname
        start = buffer.find(b"<", self._position)
        name_end = start + 1 + len(qname)
        if start < 0 or not buffer.startswith(qname, start + 1) or buffer[name_end : name_end + 1] not in _DELIMITERS:
            return None
        rest = _TAG_REST.match(buffer, name_end)
        if rest is None:
            return None
        r_match = _R_ATTR.search(rest.group(1))
        explicit = int(r_match.group(1)) if r_match else None
        if rest.group(2) == b"/":
            return start, rest.end(), explicit
        close = buffer.find(b"</" + qname, rest.end())
        end = buffer.find(b">", close)
        if (
            close < 0
            or end < 0
            or buffer.find(b"<!", rest.end(), close) >= 0
            or buffer.find(b"<?", rest.end(), close) >= 0
        ):
            return None  # cut at the buffer's end, or holding a comment or CDATA: the careful path decides
        return start, end + 1, explicit

    def _next_row_slow(self) -> tuple[int, int, int | None]:
        search_from = self._position
        while True:
            match = _ROW_LEVEL.search(self._buffer, search_from)
            if match is None:
                # A tag may be cut at the end of the buffer: search its last bytes again.
                resume = max(search_from, len(self._buffer) - 16)
                search_from = resume - self._refill("ends inside sheetData")
                continue
            if match.group(3) is not None:
                end = self._buffer.find(_SPECIAL_END[match.group(3)], match.end())
                if end < 0:
                    search_from = match.start() - self._refill("ends inside a comment or CDATA section")
                    continue
                search_from = end + len(_SPECIAL_END[match.group(3)])
                continue
            if match.group(2).endswith(b"sheetData"):
                if match.group(1) != b"/":
                    raise damaged(self._part, "has a sheetData element inside another")
                return -1, -1, None
            if match.group(1) == b"/":
                raise damaged(self._part, "has a row end tag without its start")
            found = self._row_at(match)
            if found is None:
                search_from = match.start() - self._refill("ends inside a row")
                continue
            return found

    def _row_at(self, match: re.Match[bytes]) -> tuple[int, int, int | None] | None:
        """The row element starting at `match` if all of it is in the buffer, else None."""
        rest = _TAG_REST.match(self._buffer, match.end(2))
        if rest is None:
            if self._buffer.find(b">", match.end(2)) >= 0 and self._buffer.find(b"<", match.end(2)) >= 0:
                raise damaged(self._part, "has a row start tag that is not well-formed")
            return None
        r_match = _R_ATTR.search(rest.group(1))
        explicit = int(r_match.group(1)) if r_match else None
        if rest.group(2) == b"/":
            return match.start(), rest.end(), explicit
        end = self._row_end(rest.end(), match.group(2))
        return None if end < 0 else (match.start(), end, explicit)

    def _row_end(self, position: int, qname: bytes) -> int:
        """The offset past this row's end tag, or -1 if it is not in the buffer yet."""
        while True:
            match = _ROW_LEVEL.search(self._buffer, position)
            if match is None:
                return -1
            if match.group(3) is not None:
                end = self._buffer.find(_SPECIAL_END[match.group(3)], match.end())
                if end < 0:
                    return -1
                position = end + len(_SPECIAL_END[match.group(3)])
                continue
            if match.group(1) != b"/" or match.group(2) != qname:
                raise damaged(self._part, "has a row or sheetData start tag inside a row")
            close = self._buffer.find(b">", match.end())
            return -1 if close < 0 else close + 1

    def last_value_row_fast(self) -> int | None:
        """The number of the last row holding a value (0: none), read from the part's last chunks alone.

        None when that would not be certain: a comment, CDATA or processing instruction in the part
        after its head, rows without `r`, or no value in the last chunks. The caller then counts all rows.
        """
        self.head()
        window: deque[bytes] = deque(maxlen=_TAIL_CHUNKS)
        seen, previous = 0, b""
        for chunk in itertools.chain([self._buffer[self._position :]], self._chunks):
            if b"<!" in chunk or b"<?" in chunk or (previous == b"<" and chunk[:1] in (b"!", b"?")):
                return None
            window.append(chunk)
            seen, previous = seen + 1, chunk[-1:]
        data = b"".join(window)
        start = _first_row_start(data, self._row_qname)
        if start < 0:
            return 0 if seen <= _TAIL_CHUNKS else None
        rest = SheetReader(iter(()), self._part)
        rest._buffer, rest._eof, rest._row_qname = data[start:], True, self._row_qname
        last: Row | None = None
        for piece in rest.rows():
            if isinstance(piece, Row) and piece.has_value:
                last = piece
        if last is None:
            return 0 if seen <= _TAIL_CHUNKS else None
        return last.number if last.explicit else None

    def tail(self) -> Iterator[bytes]:
        """Everything from `</sheetData>` (or after `<sheetData/>`) to the end of the part."""
        yield self._buffer[self._position :]
        self._buffer = b""
        yield from self._chunks


def _check_prolog(head: bytes, part: str) -> None:
    """Refuse text before the root element: the part is not XML, and a reader may reject it."""
    root = next((m for m in TOKEN.finditer(head) if m.group(2) is not None), None)
    prolog = head if root is None else head[: root.start()]
    if TOKEN.sub(b"", prolog).strip(b" \t\r\n\xef\xbb\xbf"):
        raise damaged(part, "has text outside its root element")


def _first_row_start(data: bytes, qname: bytes) -> int:
    """The offset of the first `<row` start tag in `data`, or -1."""
    position = data.find(b"<" + qname)
    while position >= 0:
        if data[position + 1 + len(qname) : position + 2 + len(qname)] in _DELIMITERS:
            return position
        position = data.find(b"<" + qname, position + 1)
    return -1
