"""Which files update takes (.xlsx, .xlsm, their templates, Strict included), and why it refuses others."""

from __future__ import annotations

import zipfile

from handlers.common.errors import InvalidFile
from handlers.common.ooxml import main_part
from handlers.xlsx.update.xml import attributes, tags

TAKES = "update takes Excel workbooks saved as .xlsx or .xlsm (Strict Open XML included)"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
# Encrypted OOXML is an OLE compound file holding these streams (MS-OFFCRYPTO); names are UTF-16.
_ENCRYPTED_STREAMS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
_XLS_STREAMS = ("Workbook".encode("utf-16-le"), "Book".encode("utf-16-le") + b"\0\0")
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


def refuse_before_opening(data: bytes, name: str) -> None:
    """Refuse what is not a zip: OLE files (legacy .xls, password-protected workbooks) and the rest."""
    if data.startswith(_OLE_MAGIC):
        if any(stream in data for stream in _ENCRYPTED_STREAMS):
            raise InvalidFile(f"{name} is password-protected (encrypted); {TAKES}, without a password")
        if any(stream in data for stream in _XLS_STREAMS):
            raise InvalidFile(f"{name} is a legacy binary Excel workbook (.xls); {TAKES}: save it as .xlsx")
        raise InvalidFile(f"{name} is a legacy binary or password-protected Office file; {TAKES}")
    if not data.startswith(b"PK\x03\x04"):
        raise InvalidFile(f"{name} is not an Excel workbook (.xlsx): it is not a zip archive; {TAKES}")


def check_workbook_kind(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse zips that are not OOXML workbooks: .ods, .xlsb, .numbers, other Office documents."""
    if "mimetype" in archive.NameToInfo:
        mimetype = archive.read("mimetype")[:100].decode("ascii", errors="replace")
        kind = "an OpenDocument spreadsheet (.ods)" if "spreadsheet" in mimetype else "an OpenDocument file"
        raise InvalidFile(f"{name} is {kind}; {TAKES}")
    if any(entry.endswith(("Index.zip", ".iwa")) for entry in archive.NameToInfo):
        raise InvalidFile(f"{name} is an Apple Numbers file; {TAKES}")
    content_type = main_content_type(archive)
    if content_type in _WORKBOOK_TYPES:
        return
    kind = _KINDS.get(content_type or "", "not an Excel workbook")
    raise InvalidFile(f"{name} is {kind}; {TAKES}")


def main_content_type(archive: zipfile.ZipFile) -> str | None:
    """The content type of the package's main part, from [Content_Types].xml."""
    if "[Content_Types].xml" not in archive.NameToInfo:
        return None
    try:
        main = "/" + main_part(archive)
    except InvalidFile:
        return None
    data = archive.read("[Content_Types].xml")
    extension = main.rpartition(".")[2].lower()
    by_extension = None
    for tag in tags(data):
        found = {key: value.decode(errors="replace") for key, value in attributes(tag.attrs).items()}
        if tag.local == b"Override" and found.get(b"PartName", "").lower() == main.lower():
            return found.get(b"ContentType")
        if tag.local == b"Default" and found.get(b"Extension", "").lower() == extension:
            by_extension = found.get(b"ContentType")
    return by_extension
