"""Hostile and broken files are refused with a clear message before they can hurt the worker."""

from __future__ import annotations

import io
import random
import struct
import zipfile

import pytest

from handlers.common.errors import InvalidFile, PayloadError, UnsafeFile
from handlers.common.safety import Limits
from handlers.extract import extract
from handlers.merge import merge
from tests.handlers.builders import b64, report_workbook, rezip, template_deck

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol3;</t></si></sst>"""


def extract_bytes(data: bytes) -> None:
    extract({"excel_base64": b64(data)})


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(InvalidFile, match=r"is a text file \(CSV or similar\), not a workbook; extract takes"):
        extract_bytes(b"name,amount\nx,1\n")


def test_a_legacy_or_encrypted_office_file_is_refused_with_advice() -> None:
    with pytest.raises(InvalidFile, match="an OLE container without a workbook"):
        extract_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)


def test_a_truncated_file_is_refused() -> None:
    data = report_workbook()
    with pytest.raises(InvalidFile, match="truncated or damaged"):
        extract_bytes(data[: len(data) // 2])


def test_a_zip_declaring_a_huge_uncompressed_size_is_refused_before_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    # 20 MiB of zeros deflate to ~20 KiB; the cap is lowered so the test stays small.
    data = rezip(report_workbook(), {}, extra={"xl/media/padding.bin": b"\0" * (20 * 1024 * 1024)})
    monkeypatch.setenv("DOCJOBS_MAX_UNCOMPRESSED_MB", "10")
    with pytest.raises(UnsafeFile, match=r"would inflate to 20 MiB; the limit is 10 MiB"):
        extract_bytes(data)


def test_a_zip_entry_lying_about_its_size_is_refused() -> None:
    data = bytearray(rezip(report_workbook(), {}, extra={"zz.bin": random.Random(0).randbytes(8192)}))
    # Patch the central directory entry of the last member to declare 1 byte uncompressed.
    offset = data.rfind(b"PK\x01\x02")
    data[offset + 24 : offset + 28] = struct.pack("<I", 1)
    with pytest.raises(UnsafeFile, match="declares a false uncompressed size"):
        extract_bytes(bytes(data))


def test_an_xml_entity_expansion_bomb_is_refused() -> None:
    data = rezip(report_workbook(), {"xl/sharedStrings.xml": BILLION_LAUGHS})
    with pytest.raises(UnsafeFile, match=r"declares a DTD.*entity-expansion"):
        extract_bytes(data)


def test_a_dtd_hidden_behind_a_comment_is_still_found() -> None:
    sneaky = b'<?xml version="1.0"?><!-- <a> -->' + BILLION_LAUGHS.split(b"?>", 1)[1]
    data = rezip(report_workbook(), {"xl/sharedStrings.xml": sneaky})
    with pytest.raises(UnsafeFile, match="declares a DTD"):
        extract_bytes(data)


def test_a_dtd_in_a_template_is_refused_too() -> None:
    data = rezip(template_deck(), {}, extra={"ppt/bomb.xml": BILLION_LAUGHS})
    with pytest.raises(UnsafeFile, match="declares a DTD"):
        merge({"template_base64": b64(data)})


def test_a_sheet_spanning_a_huge_area_is_refused_before_calamine_allocates_it() -> None:
    # Two cells at opposite corners would make calamine allocate 550 GB and abort the worker.
    sheet = (
        b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
        b'<row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData></worksheet>'
    )
    data = rezip(report_workbook(), {"xl/worksheets/sheet2.xml": sheet})
    with pytest.raises(UnsafeFile, match=r"sheet 'Other' spans 1,048,576 rows x 16,384 columns"):
        extract_bytes(data)


def test_cells_without_positions_count_towards_the_area(monkeypatch: pytest.MonkeyPatch) -> None:
    cells = b"<c><v>1</v></c>" * 600  # each follows the previous one: 2 rows x 600 columns
    sheet = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + b"<row>"
        + cells
        + b"</row>"
        + b"<row>"
        + cells
        + b"</row>"
        + b"</sheetData></worksheet>"
    )
    monkeypatch.setenv("DOCJOBS_MAX_SHEET_CELLS", "1000")
    with pytest.raises(UnsafeFile, match="spans 2 rows x 600 columns, more than the limit of 1,000 cells"):
        extract_bytes(rezip(report_workbook(), {"xl/worksheets/sheet2.xml": sheet}))


def test_an_oversized_inline_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCJOBS_MAX_INPUT_MB", "1")
    with pytest.raises(PayloadError, match="larger than the 1 MiB limit"):
        extract({"excel_base64": "A" * (2 * 1024 * 1024)})


def test_limits_from_the_environment_are_checked() -> None:
    assert Limits.from_env({"DOCJOBS_MAX_SHEET_CELLS": "5"}).max_sheet_cells == 5
    with pytest.raises(ValueError, match="DOCJOBS_MAX_INPUT_MB must be a whole number"):
        Limits.from_env({"DOCJOBS_MAX_INPUT_MB": "lots"})


def test_a_zip_without_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(InvalidFile, match="is a zip archive but not a workbook"):
        extract_bytes(out.getvalue())


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_dtd_in_a_utf16_part_without_a_byte_order_mark_is_refused(encoding: str) -> None:
    bomb = BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>'.encode())
    data = rezip(report_workbook(), {"xl/sharedStrings.xml": bomb.decode().encode(encoding)})
    with pytest.raises(UnsafeFile, match=r"part 'xl/sharedStrings.xml' declares a DTD"):
        extract_bytes(data)


@pytest.mark.parametrize("part", ["xl/strings.bin", "customXml/item1", "xl/media/notes.txt"])
def test_a_dtd_in_a_part_whatever_its_name_is_refused(part: str) -> None:
    # Parts are found through relationships, not by extension: any part that is XML gets the check.
    data = rezip(report_workbook(), {}, extra={part: BILLION_LAUGHS})
    with pytest.raises(UnsafeFile, match=rf"part '{part}' declares a DTD"):
        extract_bytes(data)


def test_binary_parts_that_merely_contain_a_dtd_string_are_not_xml() -> None:
    data = rezip(report_workbook(), {}, extra={"xl/media/image9.png": b"\x89PNG\r\n<!DOCTYPE x>"})
    assert extract({"excel_base64": b64(data), "sheet_names": ["Other"]})["success"] is True


def test_a_zip_with_backslash_entry_names_is_read_as_an_office_document() -> None:
    # Some Windows tools write `xl\worksheets\sheet1.xml`; Excel and calamine read such files.
    source = report_workbook()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in archive.infolist():
            target.writestr(info.filename.replace("/", "\\"), archive.read(info))
    data = extract({"excel_base64": b64(out.getvalue()), "sheet_names": ["Other"]})["data"]
    assert data["sheets"]["Other"]["tables"][0]["rows"] == [{"Name": "x", "B": 1, "Name_2": "y"}]


@pytest.mark.parametrize("padding", [4096 - 40, 4096 - 44, 4096 - 47, 20_000])
def test_a_dtd_after_a_long_comment_is_found_wherever_the_first_read_ends(padding: int) -> None:
    # The check reads 4 KiB first: a DOCTYPE cut at that boundary must still be seen.
    prolog = b'<?xml version="1.0"?><!--' + b"x" * padding + b"-->"
    bomb = prolog + BILLION_LAUGHS.split(b"?>", 1)[1]
    data = rezip(report_workbook(), {"xl/sharedStrings.xml": bomb})
    with pytest.raises(UnsafeFile, match="declares a DTD"):
        extract_bytes(data)
