"""The streaming split of sheet parts into rows, at every chunk boundary, on the corpus sheets."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.common.errors import InvalidFile
from handlers.common.ooxml import sheet_parts
from handlers.xlsx.update.rows import Row, SheetReader
from tests.corpus import corpus_params, require_corpus_file
from tests.handlers.update_parts import sheet_rows

DAMAGED = {"exceljs__invalid-xml.xlsx", "apache__spreadsheet_poc-shared-strings.xlsx"}


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    """`data` cut into chunks of `size` bytes."""
    return (data[i : i + size] for i in range(0, len(data), size))


def split(data: bytes, size: int) -> list[tuple[int, bytes]]:
    """(number, bytes) of each row, reading `data` in chunks of `size`."""
    return [
        (p.number, p.data) for p in SheetReader(pieces(data, size), "sheet").rows_after_head() if isinstance(p, Row)
    ]


def last_value_exact(data: bytes) -> int:
    rows = [p for p in SheetReader(iter([data]), "sheet").rows_after_head() if isinstance(p, Row) and p.has_value]
    return rows[-1].number if rows else 0


def corpus_sheets(path: Path) -> list[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
            return [archive.read(part) for part in sheet_parts(archive).values()]
    except (zipfile.BadZipFile, InvalidFile):
        return []  # encrypted: not a zip


@pytest.mark.parametrize("path", corpus_params("xlsx"))
def test_rows_are_the_same_whatever_the_chunk_size(path: Path | None) -> None:
    source = require_corpus_file(path)
    if source.name in DAMAGED:
        with pytest.raises(InvalidFile, match="is damaged: its part sheet has"):
            for sheet in corpus_sheets(source):
                split(sheet, len(sheet) + 1)
        return
    for sheet in corpus_sheets(source):
        whole = split(sheet, len(sheet) + 1)
        assert [(r.number, r.data) for r in sheet_rows(sheet)] == whole  # an independent splitter agrees
        for size in (7, 61, 4096):
            if len(sheet) // size < 200:  # small chunks on small sheets only: this is a unit test
                assert split(sheet, size) == whole, size
        fast = SheetReader(pieces(sheet, 4096), "sheet").last_value_row_fast()
        assert fast is None or fast == last_value_exact(sheet)


def test_the_last_value_is_found_from_the_end_of_a_long_sheet() -> None:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 3001))
    styled = b"".join(b'<row r="%d" s="1" customFormat="1"/>' % n for n in range(3001, 3100))
    sheet = b"<worksheet><sheetData>" + rows + styled + b"</sheetData></worksheet>"
    assert SheetReader(pieces(sheet, 1000), "sheet").last_value_row_fast() is None  # 3.6 KB of empty rows
    assert SheetReader(pieces(sheet, 2000), "sheet").last_value_row_fast() == 3000
    commented = sheet.replace(b'<row r="5">', b'<!-- <row r="9999"><v>1</v></row> --><row r="5">')
    assert SheetReader(pieces(commented, 2000), "sheet").last_value_row_fast() is None
    assert last_value_exact(commented) == 3000


def test_comments_and_cdata_inside_rows_are_stepped_over_whole() -> None:
    sheet = (
        b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[</row><row r="7">]]></t></is></c>'
        b'</row><!-- <row r="8"/> --><row r="2"/></sheetData></worksheet>'
    )
    for size in (1, 3, 1000):
        assert [number for number, _ in split(sheet, size)] == [1, 2]


@pytest.mark.parametrize(
    ("sheet", "problem"),
    [
        (b"<worksheet><sheetData><row r='1'><c/>", "ends inside a row"),
        (b"<worksheet></worksheet>", "has no sheetData element"),
        (b'<worksheet><sheetData><row r="0"/></sheetData></worksheet>', "has a row numbered 0"),
        (b"<worksheet><sheetData></row></sheetData></worksheet>", "has a row end tag without its start"),
    ],
)
def test_a_damaged_sheet_is_a_clear_error(sheet: bytes, problem: str) -> None:
    with pytest.raises(InvalidFile, match=f"its part sheet {problem}"):
        split(sheet, 5)
