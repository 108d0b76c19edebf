"""Refuse Office files that are not zips, are damaged, or would exhaust a worker when read.

Everything here looks only at the zip central directory and at the first bytes of each XML part, so a
hostile file is refused before anything is inflated in full.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from handlers.common.errors import InvalidFile, UnsafeFile

Kind = Literal["xlsx", "pptx"]

_LABELS: dict[Kind, str] = {"xlsx": "an Excel workbook (.xlsx)", "pptx": "a PowerPoint file (.pptx)"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls/.ppt, and also password-protected Office files
_FIRST_READ = 4096
_LOCAL_HEADER = 30  # fixed part of a zip local file header
_LONGEST_MARKER = len("<!DOCTYPE")
_PROLOG_LIMIT = 64 * 1024  # a real part's prolog is one XML declaration; padding past this is a trick
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what a handler agrees to read; set by the operator through DOCJOBS_* variables."""

    # 1 GiB of XML is about 25 million cells: far beyond any deck-filling workbook, far below a bomb.
    max_uncompressed_mb: int = 1024
    # Office files have tens of parts, large decks a few thousand; a million empty entries is an attack.
    max_zip_entries: int = 20_000
    # calamine allocates rows x columns of the used area at once (32 bytes each) and aborts the
    # process when that fails, so the area is checked first: 30 million cells is about 1 GB.
    max_sheet_cells: int = 30_000_000
    # Largest inline or downloaded source file.
    max_input_mb: int = 100

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Read the limits from DOCJOBS_MAX_UNCOMPRESSED_MB and friends; called per job, not at import."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for item in fields(cls):
            name = f"DOCJOBS_{item.name.upper()}"
            if name in env:
                try:
                    values[item.name] = int(env[name])
                except ValueError:
                    raise ValueError(f"{name} must be a whole number, not {env[name]!r}") from None
                if values[item.name] <= 0:
                    raise ValueError(f"{name} must be positive")
        return cls(**values)


def open_package(data: bytes, kind: Kind, limits: Limits, *, name: str = "the file") -> zipfile.ZipFile:
    """Open an Office file as a zip after checking it cannot blow up; raise InvalidFile/UnsafeFile."""
    archive = open_zip(data, kind, limits, name=name)
    check_parts(archive, data, name)
    return archive


def open_zip(data: bytes, kind: Kind, limits: Limits, *, name: str = "the file") -> zipfile.ZipFile:
    """The zip checks of open_package (not a zip, damaged, zip bomb) without reading any part.

    For a caller that must tell what kind of package it is first (a Numbers file carries a plist
    with a DTD, and deserves "this is a Numbers file", not "XML bomb"); call check_parts next.
    """
    label = _LABELS[kind]
    if data.startswith(_OLE_MAGIC):
        raise InvalidFile(
            f"{name} is a legacy binary or password-protected Office file, not {label}; "
            "save it as an unprotected .xlsx/.pptx"
        )
    if not data.startswith(b"PK\x03\x04"):
        raise InvalidFile(f"{name} is not {label}: it is not a zip archive")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidFile(f"{name} is truncated or damaged: its zip directory is missing or invalid") from None
    check_declared_sizes(archive, limits, name)
    return archive


def check_parts(archive: zipfile.ZipFile, data: bytes, name: str) -> None:
    """The part checks of open_package: no DTD in any XML part; backslash names made findable."""
    for info in archive.infolist():
        if not info.is_dir():
            check_prolog(archive, info, name, data)
    _alias_backslash_names(archive)


def _alias_backslash_names(archive: zipfile.ZipFile) -> None:
    """Make entries that Windows tools name `xl\\workbook.xml` findable as `xl/workbook.xml`.

    The ZIP format says `/`, but some writers use `\\`; Office and calamine accept both. zipfile
    keeps the name as written on POSIX, so every lookup by part name would miss them.
    """
    for info in archive.infolist():
        if "\\" in info.filename:
            archive.NameToInfo.setdefault(info.filename.replace("\\", "/"), info)


def _as_utf8(head: bytes) -> bytes | None:
    """The first bytes of a part as UTF-8 if they look like XML (in UTF-8 or UTF-16, BOM or not)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace").encode("utf-8")
    if b"\0" in head[:4]:
        # UTF-16 without a byte order mark: '<' is 3C 00 (little-endian) or 00 3C (big-endian).
        for encoding, marker in (("utf-16-le", b"<\0"), ("utf-16-be", b"\0<")):
            if marker in head[:256]:
                text = head[: len(head) // 2 * 2].decode(encoding, errors="replace")
                if text.lstrip(" \t\r\n").startswith("<"):
                    return text.encode("utf-8")
        return None
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return stripped if stripped.startswith(b"<") else None


def check_declared_sizes(archive: zipfile.ZipFile, limits: Limits, name: str) -> None:
    """Refuse a zip bomb from its central directory, before inflating anything."""
    entries = archive.infolist()
    if len(entries) > limits.max_zip_entries:
        raise UnsafeFile(f"{name} has {len(entries)} zip entries; the limit is {limits.max_zip_entries}")
    total = 0
    for info in entries:
        # Deflate never makes data much bigger, so a compressed size far above the declared size
        # means the declared size is a lie meant to slip past the total below.
        if info.compress_size > info.file_size + info.file_size // 100 + 1024:
            raise UnsafeFile(f"{name}: zip entry {info.filename!r} declares a false uncompressed size")
        total += info.file_size
    if total > limits.max_uncompressed_mb * _MIB:
        raise UnsafeFile(f"{name} would inflate to {total // _MIB} MiB; the limit is {limits.max_uncompressed_mb} MiB")


def check_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, data: bytes | None = None) -> None:
    """Refuse a part with a DTD: Office never writes one, and it is how entity-expansion bombs start.

    Every part whose first bytes look like XML is checked, whatever its name: a reader finds parts
    through relationships, and a part named `xl/sharedStrings.bin` is parsed as XML all the same.
    The first 4 KiB nearly always reach the root element; only a longer prolog is read further.
    """
    raw = None if data is None else _first_bytes(data, info)
    if raw is not None and (len(raw) < _FIRST_READ or _prolog_ends(raw, info, name, more=True) is not None):
        if len(raw) < _FIRST_READ:
            _prolog_ends(raw, info, name, more=False)
        return
    try:
        with archive.open(info) as part:
            raw = part.read(_FIRST_READ)
            if len(raw) < _FIRST_READ:
                _prolog_ends(raw, info, name, more=False)
            elif _prolog_ends(raw, info, name, more=True) is None:
                raw += part.read(_PROLOG_LIMIT - _FIRST_READ)
                more = len(raw) == _PROLOG_LIMIT
                if _prolog_ends(raw, info, name, more=more) is None and more:
                    raise UnsafeFile(f"{name}: part {info.filename!r} has an XML prolog longer than 64 KiB")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise InvalidFile(f"{name} is damaged: part {info.filename!r} cannot be read ({error})") from None


def _first_bytes(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """The first 4 KiB of a stored or deflated entry, inflated straight from the file's bytes.

    Opening every part through zipfile costs more than calamine's whole read of a small workbook
    (a header parse, a decompressor and a CRC per part); None means "use zipfile" (an unusual entry).
    """
    start = info.header_offset
    usual = not info.flag_bits & 0x1 and info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
    if not usual or data[start : start + 4] != b"PK\x03\x04" or len(data) < start + _LOCAL_HEADER:
        return None
    name_length, extra_length = struct.unpack_from("<HH", data, start + 26)
    begin = start + _LOCAL_HEADER + name_length + extra_length
    wanted = min(info.compress_size, _FIRST_READ * 2)
    piece = data[begin : begin + wanted]
    if info.compress_type == zipfile.ZIP_STORED:
        return piece[:_FIRST_READ]
    try:
        head = zlib.decompressobj(-zlib.MAX_WBITS).decompress(piece, _FIRST_READ)
    except zlib.error:
        return None  # zipfile reports the damage
    # Short of 4 KiB with input left over: an unusually poor compression, read the ordinary way.
    return None if len(head) < _FIRST_READ and wanted < info.compress_size else head


def _prolog_ends(raw: bytes, info: zipfile.ZipInfo, name: str, *, more: bool) -> bool | None:
    """True at the root element, False if the part is not XML, None if the prolog goes on past `raw`.

    `more`: the part may go on after `raw`, so a tag cut at its end must be read further.
    """
    head = _as_utf8(raw)
    if head is None:
        return False  # not XML (a picture, a binary part): no parser will read it as XML
    position = 0
    while (position := head.find(b"<", position)) >= 0:
        if more and len(head) - position < _LONGEST_MARKER:
            return None  # "<!DOCTYPE" may be cut here
        if head.startswith(b"<!DOCTYPE", position) or head.startswith(b"<!ENTITY", position):
            raise UnsafeFile(
                f"{name}: part {info.filename!r} declares a DTD, which Office files never contain; "
                "refusing it as a possible XML entity-expansion attack"
            )
        if head.startswith(b"<?", position):
            position = head.find(b"?>", position)
        elif head.startswith(b"<!--", position):
            position = head.find(b"-->", position)  # skipped whole: a comment may contain "<"
        else:
            return True  # the root element: no DTD can follow it
        if position < 0:
            break
    return None
