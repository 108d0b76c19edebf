"""Which kind of file a workbook is, for every handler, and opening it with python-calamine.

Extract reads .xlsx/.xlsm (OOXML, Transitional or Strict), .xlsb, .xls and .ods, all through
calamine so that one set of value rules serves every format; update takes .xlsx/.xlsm only (it edits
the OOXML parts in place). Both tell a file's kind here, with one set of rules, and anything they do
not take gets a message that says what the file is instead (encrypted, a CSV, a picture, a Numbers
file...) and which formats that handler takes, never calamine's or Python's own text at length.
"""

from __future__ import annotations

import enum
import io
import re
import zipfile
from collections.abc import Callable
from typing import TypeVar

from python_calamine import CalamineError, CalamineWorkbook

from handlers.common.errors import InvalidFile
from handlers.common.ooxml import main_part

T = TypeVar("T")

_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the OLE container of .xls, and of every encrypted Office file
_DIRECTORY_ENTRY = 128  # OLE directory entries are 128 bytes, each starting with its UTF-16LE name
_CALAMINE_DETAIL_CHARS = 120
TAKES = ".xlsx, .xlsm, .xlsb, .xls or .ods"
EXTRACT_TAKES = f"extract takes {TAKES}"
UPDATE_TAKES = "update takes Excel workbooks saved as .xlsx or .xlsm (Strict Open XML included)"

# First bytes of kinds of file people send by mistake, to say what the file is.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG picture"),
    (b"\xff\xd8\xff", "a JPEG picture"),
    (b"GIF8", "a GIF picture"),
    (b"%PDF", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
)


class Format(enum.StrEnum):
    """A workbook format that calamine reads."""

    XLSX = "xlsx"  # OOXML, .xlsx/.xlsm/.xltx, Transitional or Strict
    XLSB = "xlsb"  # Excel binary workbook (a zip of BIFF12 parts)
    XLS = "xls"  # Excel 97-2003 (BIFF8 in an OLE container)
    ODS = "ods"  # OpenDocument spreadsheet (LibreOffice, Google Sheets export)


def is_zip(data: bytes) -> bool:
    """Whether `data` starts like a zip archive (every OOXML and OpenDocument file does)."""
    return data.startswith(b"PK\x03\x04")


def detect(data: bytes, name: str, takes: str = EXTRACT_TAKES) -> Format:
    """The workbook format of a file that is not a zip (see zip_format), or an InvalidFile saying what it is."""
    if data.startswith(_OLE_MAGIC):
        return _ole_format(data, name, takes)
    raise InvalidFile(f"{name} is {_other_kind(data)}, not a workbook; {takes}")


def open_workbook(data: bytes, name: str, *, load_tables: bool = False) -> CalamineWorkbook:
    """The workbook opened by calamine; a file calamine cannot read is an InvalidFile."""
    return calamine_call(
        lambda: CalamineWorkbook.from_filelike(io.BytesIO(data), load_tables=load_tables),
        f"{name} is damaged or not readable as a workbook",
    )


def worksheet_names(workbook: CalamineWorkbook) -> list[str]:
    """The names of the workbook's worksheets, in order (chart, dialog and macro sheets left out)."""
    return [sheet.name for sheet in workbook.sheets_metadata if str(sheet.typ).endswith("WorkSheet")]


def calamine_call(call: Callable[[], T], failure: str) -> T:
    """Run a calamine call; its errors (and its Rust panics) become InvalidFile(`failure`: detail)."""
    try:
        return call()
    except CalamineError as error:
        raise InvalidFile(f"{failure} ({_detail(error)})") from None
    except BaseException as error:
        # A Rust panic inside calamine reaches Python as pyo3's PanicException, a BaseException
        # (so that `except Exception` does not swallow it); for us it means a file calamine cannot read.
        if type(error).__name__ != "PanicException":
            raise
        raise InvalidFile(f"{failure} (the reader failed on its structure)") from None


def _detail(error: BaseException) -> str:
    text = str(error).strip().rstrip(".") or type(error).__name__
    return text[:_CALAMINE_DETAIL_CHARS]


def _ole_format(data: bytes, name: str, takes: str) -> Format:
    streams = _ole_stream_names(data)
    if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
        raise InvalidFile(
            f"{name} is encrypted (password-protected); remove the password in Excel "
            "(File > Info > Protect Workbook) and send it again"
        )
    if "Workbook" in streams or "Book" in streams:
        return Format.XLS
    kind = (
        "a Word document"
        if "WordDocument" in streams
        else "a PowerPoint file"
        if "PowerPoint Document" in streams
        else "an OLE container without a workbook (damaged, or another legacy Office file)"
    )
    raise InvalidFile(f"{name} is {kind}; {takes}")


def _ole_stream_names(data: bytes) -> set[str]:
    """Names of the OLE container's directory entries that matter here, found where entries start."""
    found: set[str] = set()
    for stream in ("EncryptionInfo", "EncryptedPackage", "Workbook", "Book", "WordDocument", "PowerPoint Document"):
        needle = stream.encode("utf-16-le") + b"\0\0"
        position = data.find(needle, 512)
        while position >= 0:
            # Directory sectors start on sector boundaries (512 or 4096 bytes), so a real entry
            # name sits at a multiple of 128; the same bytes inside cell text almost never do.
            if position % _DIRECTORY_ENTRY == 0:
                found.add(stream)
                break
            position = data.find(needle, position + 1)
    return found


def zip_format(archive: zipfile.ZipFile, name: str, takes: str = EXTRACT_TAKES) -> Format:
    """The workbook format of an opened zip, or an InvalidFile saying what it is instead."""
    names = {entry.replace("\\", "/").lower() for entry in archive.namelist()}
    mimetype = archive.read("mimetype")[:100] if "mimetype" in archive.NameToInfo else b""
    if "xl/workbook.bin" in names:
        return Format.XLSB
    if "[content_types].xml" in names:
        if any(entry.startswith("xl/") for entry in names):
            return Format.XLSX
        kind = (
            "a Word document"
            if any(e.startswith("word/") for e in names)
            else "a PowerPoint file"
            if any(e.startswith("ppt/") for e in names)
            else None
        )
        if kind:
            raise InvalidFile(f"{name} is {kind}, not a workbook; {takes}")
        return Format.XLSX  # an Office package with an unusual layout: its relationships say
    if b"opendocument.spreadsheet" in mimetype or "content.xml" in names:
        if mimetype and b"spreadsheet" not in mimetype:
            raise InvalidFile(f"{name} is an OpenDocument file that is not a spreadsheet; {takes}")
        return Format.ODS
    if any(_numbers_entry(entry) for entry in names):
        raise InvalidFile(f"{name} is an Apple Numbers file; export it as Excel (.xlsx) and send that ({takes})")
    raise InvalidFile(f"{name} is a zip archive but not a workbook; {takes}")


def _numbers_entry(entry: str) -> bool:
    # A Numbers document is a zip of Index/*.iwa (or a bundle folder holding Index.zip).
    parts = entry.split("/")
    return (parts[-1].endswith(".iwa") and "index" in parts) or (parts[-1] == "index.zip" and len(parts) <= 2)


def _other_kind(data: bytes) -> str:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if not data:
        return "empty"
    head = data[:4096]
    if b"\0" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:  # a multi-byte character cut at the end is still text
                return "a binary file"
        return "a text file (CSV or similar)"
    return "a binary file"


# --- what update takes -------------------------------------------------------------------------------

_WORKBOOK_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
}
_KINDS = {
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": "an Excel binary workbook (.xlsb)",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "a PowerPoint file",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "a Word document",
}
_LABELS = {
    Format.XLSB: "an Excel binary workbook (.xlsb)",
    Format.ODS: "an OpenDocument spreadsheet (.ods)",
}
# [Content_Types].xml's entries; the part has not been through the DTD check yet, so no XML parser.
_TYPE_TAG = re.compile(rb"<(?:[\w.-]+:)?(Default|Override)((?:\s[^>]*)?)>")
_ATTRIBUTE = re.compile(rb"([\w.:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def refuse_before_opening(data: bytes, name: str) -> None:
    """Refuse, for update, what is not a zip: legacy .xls, encrypted workbooks, the rest named as extract names it."""
    if data.startswith(_OLE_MAGIC):
        streams = _ole_stream_names(data)
        if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
            raise InvalidFile(f"{name} is password-protected (encrypted); {UPDATE_TAKES}, without a password")
        if "Workbook" in streams or "Book" in streams:
            raise InvalidFile(f"{name} is a legacy binary Excel workbook (.xls); {UPDATE_TAKES}: save it as .xlsx")
    if not is_zip(data):
        detect(data, name, UPDATE_TAKES)  # raises, saying what the file is


def check_workbook_kind(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse, for update, zips that are not OOXML workbooks: .ods, .xlsb, .numbers, other documents."""
    kind = zip_format(archive, name, UPDATE_TAKES)
    if kind is not Format.XLSX:
        raise InvalidFile(f"{name} is {_LABELS.get(kind, kind.value)}; {UPDATE_TAKES}")
    content_type = main_content_type(archive)
    if content_type not in _WORKBOOK_TYPES:
        raise InvalidFile(f"{name} is {_KINDS.get(content_type or '', 'not an Excel workbook')}; {UPDATE_TAKES}")


def main_content_type(archive: zipfile.ZipFile) -> str | None:
    """The content type of the package's main part, from [Content_Types].xml."""
    if "[Content_Types].xml" not in archive.NameToInfo:
        return None
    try:
        main = "/" + main_part(archive)
    except InvalidFile:
        return None
    extension = main.rpartition(".")[2].lower()
    by_extension = None
    for tag in _TYPE_TAG.finditer(archive.read("[Content_Types].xml")):
        found = {
            m[1]: (m[2] if m[2] is not None else m[3]).decode(errors="replace") for m in _ATTRIBUTE.finditer(tag[2])
        }
        if tag[1] == b"Override" and found.get(b"PartName", "").lower() == main.lower():
            return found.get(b"ContentType")
        if tag[1] == b"Default" and found.get(b"Extension", "").lower() == extension:
            by_extension = found.get(b"ContentType")
    return by_extension
