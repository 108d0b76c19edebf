"""A part's XML in chunks: inflated straight from the package's bytes, never cutting a tag."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from handlers.common.errors import InvalidFile
from handlers.xlsx.part_chunks import xml_chunks

PART = "xl/worksheets/sheet1.xml"


def package(content: bytes, compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as target:
        target.writestr("[Content_Types].xml", b"<Types/>")
        target.writestr(PART, content)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def sheet_xml(rows: int) -> bytes:
    rng = random.Random(7)  # values of random lengths: tags end at every offset of the chunks
    cells = (b'<c r="A%d" t="str"><v>%s</v></c>' % (row, b"x" * rng.randrange(40)) for row in range(1, rows + 1))
    return b"<worksheet><sheetData>" + b"".join(cells) + b"</sheetData></worksheet>"


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED], ids=["deflated", "stored"])
@pytest.mark.parametrize("size", [7, 1000, 64 * 1024])
def test_chunks_join_to_the_part_and_each_ends_before_a_tag(compression: int, size: int) -> None:
    content = sheet_xml(5000)
    chunks = list(xml_chunks(package(content, compression), PART, size))
    assert b"".join(chunks) == content
    assert all(chunk.startswith(b"<") for chunk in chunks)
    assert all(chunk.count(b"<") == chunk.count(b">") for chunk in chunks)  # no tag cut in two


def test_a_part_that_inflates_past_its_declared_size_is_cut_at_it() -> None:
    # As zipfile does: the zip-bomb check bounded the declared sizes, not what the stream holds.
    archive = package(sheet_xml(100))
    info = archive.getinfo(PART)
    info.file_size = 50
    assert len(b"".join(xml_chunks(archive, PART, 16))) == 50


def test_a_damaged_deflate_stream_is_an_invalid_file() -> None:
    source = package(sheet_xml(100))
    assert isinstance(source.fp, io.BytesIO)
    data = bytearray(source.fp.getvalue())
    info = source.getinfo(PART)
    start = info.header_offset + 30 + len(PART)
    data[start : start + 16] = b"\xff" * 16  # an invalid block type where the deflate stream starts
    with pytest.raises(InvalidFile, match="cannot be inflated"):
        list(xml_chunks(zipfile.ZipFile(io.BytesIO(bytes(data))), PART))
