"""The sheet-area pre-check counts exactly the rectangle calamine allocates, in every spelling it reads."""

from __future__ import annotations

import io
import zipfile

import pytest
from python_calamine import CalamineWorkbook

from handlers.common.errors import UnsafeFile
from handlers.xlsx.cell_positions import CellPlacer
from handlers.xlsx.sheet_area import check_sheet_area
from tests.handlers.builders import report_workbook, rezip

PART = "xl/worksheets/sheet2.xml"  # the second sheet ("Other") of the report workbook
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
TAIL = b"</sheetData></worksheet>"


def workbook_with(sheet_data: bytes) -> bytes:
    return rezip(report_workbook(), {PART: HEAD + sheet_data + TAIL})


def calamine_area(data: bytes) -> int:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Other")
    return int(sheet.height * sheet.width)


def counted_area(data: bytes, chunk: int = 4 * 1024 * 1024) -> int:
    placer = CellPlacer(valued_only=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        placer.feed(archive.read(PART))
    return placer.area


def assert_limit_is_exact(data: bytes, area: int, *, chunk: int = 4 * 1024 * 1024) -> None:
    """The sheet passes with a limit of exactly `area` cells and is refused with one cell less."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        check_sheet_area(archive, PART, "Other", area, chunk=chunk)
        with pytest.raises(UnsafeFile, match=rf"more than the limit of {area - 1:,} cells"):
            check_sheet_area(archive, PART, "Other", area - 1, chunk=chunk)


def libreoffice_like_rows(rows: int, cols: int) -> bytes:
    """Rows spelt as LibreOffice writes them: long row tags, `<c r=".." s=".." t="n">`."""
    out = []
    for row in range(1, rows + 1):
        cells = b"".join(
            b'<c r="%s%d" s="0" t="n"><v>%d</v></c>' % (bytes([65 + col]), row, row * cols + col) for col in range(cols)
        )
        out.append(
            b'<row r="%d" customFormat="false" ht="12.8" hidden="false" customHeight="false" '
            b'outlineLevel="0" collapsed="false">%s</row>' % (row, cells)
        )
    return b"".join(out)


@pytest.mark.parametrize("chunk", [97, 1000, 4096])
def test_a_libreoffice_sheet_is_counted_exactly_whatever_the_chunk_boundaries(chunk: int) -> None:
    # 1,500 x 20 cells in ~150 KB: tags are cut at hundreds of chunk ends (the 4 MiB scan used to count
    # a cut tag as a cell without a position, and every row of that chunk as an extra row).
    data = workbook_with(libreoffice_like_rows(1500, 20))
    assert calamine_area(data) == 1500 * 20
    assert_limit_is_exact(data, 1500 * 20, chunk=chunk)


SPELLINGS = {
    "lowercase": b'<row r="1"><c r="a1"><v>1</v></c><c r="ad40"><v>2</v></c></row>',
    "single quotes": b"<row r='1'><c r='A1'><v>1</v></c><c r='AD40'><v>2</v></c></row>",
    "spaced equals": b'<row r = "1"><c r = "A1"><v>1</v></c><c  r\t=\n"AD40"><v>2</v></c></row>',
    "r after other attributes": b'<row r="1"><c s="0" r="A1"><v>1</v></c><c t="n" r="AD40"><v>2</v></c></row>',
    "namespace prefix": (
        b'<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="1">'
        b'<x:c r="A1"><x:v>1</x:v></x:c><x:c r="AD40"><x:v>2</x:v></x:c></x:row>'
    ),
    "row number implies the cell position": (
        b'<row r="1"><c><v>1</v></c></row><row r="40"><c r="AD40"><v>2</v></c></row>'
    ),
    "order implies row and column": (
        b"<row><c><v>1</v></c></row>" + b"<row/>" * 38 + b"<row>" + b"<c/>" * 29 + b"<c><v>2</v></c></row>"
    ),
    "a prefixed r is not a position": b'<row r="1"><c r="A1"><v>1</v></c><c r="AD40" x:r="XFD99"><v>2</v></c></row>',
}


@pytest.mark.parametrize("sheet_data", list(SPELLINGS.values()), ids=list(SPELLINGS))
def test_every_spelling_calamine_reads_is_counted_as_calamine_places_it(sheet_data: bytes) -> None:
    data = workbook_with(sheet_data)
    assert calamine_area(data) == 40 * 30  # A1 to AD40, as calamine reads it
    assert counted_area(data) == 40 * 30
    assert_limit_is_exact(data, 40 * 30)
    assert_limit_is_exact(data, 40 * 30, chunk=7)  # and with a tag cut at almost every chunk end


@pytest.mark.parametrize(
    "far_cell",
    [b'<c r="A2000000"><v>1</v></c>', b'<c r="a2000000"><v>1</v></c>', b"<c r='A2000000'><v>1</v></c>"],
    ids=["upper", "lower", "quoted"],
)
def test_rows_past_excels_last_row_are_counted(far_cell: bytes) -> None:
    # calamine does not stop at row 1,048,576: a 2 KB file could still ask for any rectangle.
    data = workbook_with(b'<row r="1"><c r="A1"><v>1</v></c>' + far_cell + b"</row>")
    assert counted_area(data) == 2_000_000
    assert_limit_is_exact(data, 2_000_000)


def test_a_far_away_value_is_refused_before_calamine_allocates() -> None:
    data = workbook_with(
        b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="xfd1048576"><v>2</v></c></row>'
    )
    with (
        zipfile.ZipFile(io.BytesIO(data)) as archive,
        pytest.raises(
            UnsafeFile, match=r"spans 1,048,576 rows x 16,384 columns, more than the limit of 30,000,000 cells"
        ),
    ):
        check_sheet_area(archive, PART, "Other", 30_000_000)


def test_styled_empty_cells_and_formulas_without_values_do_not_count() -> None:
    # As a Gnumeric file formatted out to XFD1048576: calamine keeps only cells with a value.
    styled = b"".join(b'<c r="%s1048576" s="1"/>' % col for col in (b"XFB", b"XFC"))
    data = workbook_with(
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>2</v></c><c r="XFD1" s="2"/></row>'
        + b'<row r="2">'
        + b"".join(b'<c r="%s2" s="1"/>' % bytes([65 + col]) for col in range(26)) * 20
        + b'<c r="ZZ2"><f>SUM(A1)</f></c><c r="ZZZ2" t="s"><v></v></c><c r="XFA2" t="e"><v></v></c></row>'
        + b'<row r="1048576">'
        + styled
        + b'<c r="XFD1048576" s="3"><f>1+1</f></c></row>'
    )
    assert calamine_area(data) == 2
    assert counted_area(data) == 2
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        check_sheet_area(archive, PART, "Other", 2)


@pytest.mark.parametrize(
    "cell", [b'<c r="J10" t="str"><v></v></c>', b'<c r="J10" t="inlineStr"><is></is></c>', b'<c r="J10"><v> </v></c>']
)
def test_an_empty_string_value_still_counts_as_calamine_keeps_it(cell: bytes) -> None:
    data = workbook_with(b'<row r="1"><c r="A1"><v>1</v></c>' + cell + b"</row>")
    assert calamine_area(data) == 100
    assert counted_area(data) == 100


def test_a_cell_placed_after_a_styled_empty_one_counts_from_it() -> None:
    # The styled cell holds no value but moves the column on: the next cell, without `r`, is at XFB1.
    styled = b"".join(b'<c r="%s1" s="1"/>' % bytes([65 + col]) for col in range(26)) * 200
    data = workbook_with(b'<row r="1"><c r="A1"><v>1</v></c>' + styled + b'<c r="XFA1" s="1"/><c><v>2</v></c></row>')
    assert calamine_area(data) == 16_382
    assert counted_area(data) == 16_382
    assert_limit_is_exact(data, 16_382)


@pytest.mark.parametrize("run", [1, 40], ids=["styled cells between values", "styled areas"])
def test_many_styled_cells_with_long_references_still_leave_the_far_value_counted(run: int) -> None:
    # Past 64 styled cells with long references the scan switches strategy (cut them out in runs, or
    # skip each inside the search); a valued far cell after them must still count.
    rows = []
    for row in range(2, 300):
        styled = b"".join(b'<c r="%s%d" s="1"/>' % (b"Z" + bytes([65 + c % 26]), row) for c in range(run))
        rows.append(b'<row r="%d"><c r="A%d"><v>1</v></c>%s</row>' % (row, row, styled))
    far = b'<row r="5000"><c r="AB5000" s="2" t="n"><v>3</v></c></row>'
    data = workbook_with(b'<row r="1"><c r="A1"><v>1</v></c></row>' + b"".join(rows) + far)
    assert calamine_area(data) == 5000 * 28
    assert_limit_is_exact(data, 5000 * 28)


@pytest.mark.parametrize("chunk", [97, 4096, 4 * 1024 * 1024])
@pytest.mark.parametrize(
    "late_cell",
    [b'<row r="3000"><c><v>1</v></c></row>', b'<row r="3000"><x:c r="A3000"><v>1</v></x:c></row>'],
    ids=["implied position", "prefixed"],
)
def test_a_cell_without_its_own_plain_reference_after_plain_ones_is_placed_exactly(
    late_cell: bytes, chunk: int
) -> None:
    # The plain cells before it are scanned fast; this one sends the sheet to the exact replay.
    plain = b"".join(
        b'<row r="%d"><c r="A%d"><v>1</v></c><c r="B%d"><v>2</v></c></row>' % ((row,) * 3) for row in range(1, 400)
    )
    data = workbook_with(plain + late_cell)
    assert calamine_area(data) == 3000 * 2
    assert_limit_is_exact(data, 3000 * 2, chunk=chunk)
