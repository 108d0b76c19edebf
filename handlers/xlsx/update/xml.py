"""Byte-level XML helpers for editing package parts in place: find tags, edit attributes, escape text.

The update rewrites only what it must, so parts are edited as bytes rather than parsed into a tree and
serialised again (which would re-spell namespaces, attributes and whitespace). These helpers work on
complete, small parts; the sheet rows are split by `handlers.xlsx.update.rows`, which streams.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from handlers.common.errors import InvalidFile

_NAME = rb"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
_ATTRS = rb"(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*"
# A tag, or a comment / CDATA section / processing instruction matched whole so that a "<" inside
# one is never taken for a tag.
TOKEN = re.compile(
    rb"<(?:!--.*?-->|!\[CDATA\[.*?\]\]>|\?.*?\?>|!DOCTYPE[^>]*>|(/?)(" + _NAME + rb")(" + _ATTRS + rb")\s*(/?)>)",
    re.S,
)
_ATTR = re.compile(rb"([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_INVALID_XML_CHAR = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


@dataclass(frozen=True, slots=True)
class Tag:
    """One start, end or empty tag in a part, with its byte span."""

    start: int
    end: int
    closing: bool
    empty: bool
    qname: bytes  # with its prefix, as written
    attrs: bytes  # the raw attribute text

    @property
    def local(self) -> bytes:
        """The name without its namespace prefix."""
        return self.qname.rpartition(b":")[2]

    @property
    def prefix(self) -> bytes:
        """`x:` for `<x:row>`, empty for the default namespace."""
        head, colon, _ = self.qname.rpartition(b":")
        return head + colon

    def attr(self, name: bytes) -> bytes | None:
        """The raw value of an attribute (entities left as written), or None."""
        return attributes(self.attrs).get(name)


def tags(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Tag]:
    """Every tag of `data[start:end]` in order; comments, CDATA and declarations are skipped."""
    for match in TOKEN.finditer(data, start, len(data) if end is None else end):
        if match.group(2) is not None:
            yield Tag(
                match.start(),
                match.end(),
                match.group(1) == b"/",
                match.group(4) == b"/",
                match.group(2),
                match.group(3),
            )


def attributes(raw: bytes) -> dict[bytes, bytes]:
    """Attribute name (with prefix) -> raw value."""
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _ATTR.finditer(raw)}


def start_tag(qname: bytes, attrs: bytes, *, empty: bool = False) -> bytes:
    """A start tag (or empty-element tag) from a name and raw attribute text."""
    return b"<" + qname + attrs + (b"/>" if empty else b">")


def edit_attrs(raw: bytes, changes: Mapping[bytes, bytes | None]) -> bytes:
    """Raw attribute text with attributes set (value already escaped) or removed (None), rest verbatim."""
    remaining = dict(changes)
    parts: list[bytes] = []
    position = 0
    for match in _ATTR.finditer(raw):
        name = match.group(1)
        if name in remaining:
            parts.append(
                raw[position : match.start()].rstrip() if remaining[name] is None else raw[position : match.start()]
            )
            value = remaining.pop(name)
            if value is not None:
                parts.append(name + b'="' + value + b'"')
        else:
            parts.append(raw[position : match.end()])
        position = match.end()
    parts.append(raw[position:])
    for name, value in remaining.items():
        if value is not None:
            parts.append(b" " + name + b'="' + value + b'"')
    return b"".join(parts)


def find_first(data: bytes, local: bytes, start: int = 0) -> Tag | None:
    """The first start or empty tag with that local name."""
    return next((tag for tag in tags(data, start) if not tag.closing and tag.local == local), None)


def element_end(data: bytes, tag: Tag) -> int:
    """The offset just past the element that `tag` opens (its end tag, or the tag itself if empty)."""
    if tag.empty:
        return tag.end
    depth = 0
    for other in tags(data, tag.start):
        if other.qname != tag.qname or other.empty:
            continue
        depth += -1 if other.closing else 1
        if depth == 0:
            return other.end
    raise InvalidFile(f"the file is damaged: element {tag.qname.decode(errors='replace')} is not closed")


def children(data: bytes, parent: Tag) -> Iterator[tuple[Tag, int]]:
    """The child elements of `parent` as (start tag, end offset)."""
    if parent.empty:
        return
    position = parent.end
    stop = element_end(data, parent)
    for tag in tags(data, position, stop):
        if tag.start < position:
            continue
        if tag.closing:
            return
        end = element_end(data, tag)
        yield tag, end
        position = end


def escape_text(text: str) -> bytes:
    """Text for element content; characters XML 1.0 cannot hold are written as Excel's `_xHHHH_`."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INVALID_XML_CHAR.sub(lambda m: f"_x{ord(m.group()):04X}_", escaped).encode("utf-8")


def escape_attr(text: str) -> bytes:
    """Text for a double-quoted attribute value."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return escaped.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;").encode("utf-8")


def unescape_attr(raw: bytes) -> str:
    """An attribute's raw value as text (the five predefined entities and character references)."""
    text = raw.decode("utf-8", errors="replace")
    if "&" not in text:
        return text
    text = re.sub(r"&#x([0-9A-Fa-f]+);", lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"&#([0-9]+);", lambda m: chr(int(m.group(1))), text)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text
