"""The size pre-checks of .xlsb, .ods and .xls count what calamine allocates, and refuse far cells."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from handlers.common.errors import UnsafeFile
from handlers.common.safety import Limits
from handlers.extract import ExtractRequest, extract_workbook
from handlers.xlsx.area import check_before_opening
from handlers.xlsx.area.ods import count_with_parser
from handlers.xlsx.formats import Format, is_zip
from tests.handlers.binary_books import biff, compound_file, empty, ods, record, row, value, xls, xlsb
from tests.handlers.builders import report_workbook, rezip

FAR_COLUMN = 4_000_000_000  # an .xlsb cell's column is a u32 that nothing bounds
MAX = Limits().max_sheet_cells


def check(kind: Format, data: bytes, max_cells: int = MAX) -> None:
    archive = zipfile.ZipFile(io.BytesIO(data)) if is_zip(data) else None
    check_before_opening(kind, data, archive, max_cells)


def calamine_area(data: bytes) -> int:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    return int(sheet.height * sheet.width)


def assert_limit_is_exact(kind: Format, data: bytes) -> None:
    """The file passes with a limit of exactly calamine's area and is refused with one cell less."""
    area = calamine_area(data)
    assert area > 1
    check(kind, data, area)
    with pytest.raises(UnsafeFile, match=rf"more than the limit of {area - 1:,} cells"):
        check(kind, data, area - 1)


def refusal(kind: Format, data: bytes) -> str:
    with pytest.raises(UnsafeFile) as refused:
        check(kind, data)
    return str(refused.value)


SHAPES = [
    [(0, 0, 1.0), (2, 3, 5.0)],
    [(4, 2, 1.0), (4, 7, 2.0), (9, 1, 3.0)],  # the rectangle starts where the first cell is
    [(0, 5, 1.0), (300, 0, 2.0)],
]


@pytest.mark.parametrize("cells", SHAPES)
def test_xlsb_count_is_calamines_rectangle(cells: list[tuple[int, int, float]]) -> None:
    assert_limit_is_exact(Format.XLSB, xlsb(cells))


@pytest.mark.parametrize("cells", SHAPES)
def test_xls_count_is_calamines_rectangle(cells: list[tuple[int, int, float]]) -> None:
    assert_limit_is_exact(Format.XLS, xls(cells))


ODS_SHAPES = [
    row(value(1)) + row(empty(), repeats=3) + row(empty(2), value(2, 3), empty(16000)),
    row(empty(5), value(1)) + row(value(2), repeats=40) + row(empty(16384), repeats=1_048_000),
    row(empty(16384), repeats=7) + row(empty(3), value(1), empty(), value(2)) + row(value(3, 2)),
]


@pytest.mark.parametrize("rows", ODS_SHAPES)
def test_ods_count_is_calamines_rectangle(rows: bytes) -> None:
    assert_limit_is_exact(Format.ODS, ods(rows))


def xlsb_row(number: int) -> bytes:
    return record(0x00, struct.pack("<IIHBBI", number, 0, 0, 0, 0, 0))


XLSB_REAL_A1 = xlsb_row(0) + record(0x05, struct.pack("<IId", 0, 0, 1.0))
XLSB_BODIES = {
    "formula number": XLSB_REAL_A1 + xlsb_row(9) + record(0x09, struct.pack("<IIdHI", 50, 0, 2.0, 0, 0)),
    "empty string": XLSB_REAL_A1 + xlsb_row(9) + record(0x06, struct.pack("<III", 30, 0, 0)),
    # BrtFmlaError is not read by calamine: the rectangle stays A1, so the limit of 1 is exact too.
    "formula error": XLSB_REAL_A1 + xlsb_row(9) + record(0x0B, struct.pack("<IIBHI", 50, 0, 7, 0, 0)),
}


@pytest.mark.parametrize("case", list(XLSB_BODIES))
def test_xlsb_cell_records_count_as_calamine_reads_them(case: str) -> None:
    data = xlsb([], body=XLSB_BODIES[case])
    area = calamine_area(data)
    check(Format.XLSB, data, area)
    if area > 1:
        assert_limit_is_exact(Format.XLSB, data)


def xls_formula(row: int, col: int, cached: bytes) -> bytes:
    return biff(0x0006, struct.pack("<HHH", row, col, 0) + cached + struct.pack("<HIH", 0, 0, 0))


XLS_STRING_RESULT = bytes([0, 0, 0, 0, 0, 0, 0xFF, 0xFF])  # the value comes in the next record
XLS_EXTRA = {
    "mulrk": biff(0x00BD, struct.pack("<HH", 3, 2) + struct.pack("<HI", 0, 30) * 4 + struct.pack("<H", 5)),
    "formula number": xls_formula(8, 9, struct.pack("<d", 3.0)),
    "formula string": xls_formula(8, 9, XLS_STRING_RESULT) + biff(0x0207, struct.pack("<HB", 1, 0) + b"a"),
}


@pytest.mark.parametrize("case", list(XLS_EXTRA))
def test_xls_value_records_count_as_calamine_reads_them(case: str) -> None:
    assert_limit_is_exact(Format.XLS, xls([(0, 0, 1.0)], extra=XLS_EXTRA[case], dimensions=(0, 1, 0, 1)))


def test_xls_formula_string_without_its_value_is_not_a_cell() -> None:
    data = xls([(0, 0, 1.0)], extra=xls_formula(60_000, 200, XLS_STRING_RESULT), dimensions=(0, 1, 0, 1))
    check(Format.XLS, data, 1)
    assert calamine_area(data) == 1


FLOAT_CELL_WITH = b'<table:table-cell office:value-type="float" office:value="1">%s</table:table-cell>'
SUB_TABLE = b'<table:table table:name="in"><table:table-row>%s</table:table-row></table:table>' % value(3)
# What calamine skips or stops at, which the fast scan hands to the parser: markup inside a cell is
# the cell's content (a row or a table in it is not a row of the sheet), and comments.
ODS_ODDITIES = {
    "row inside a cell": row(FLOAT_CELL_WITH % b"<table:table-row/>", value(2, 5)),
    "table inside a cell": row(FLOAT_CELL_WITH % SUB_TABLE, value(2, 5)) + row(value(4)),
    "row inside a string cell": row(
        b'<table:table-cell office:value-type="string"><text:p>a</text:p><table:table-row/></table:table-cell>',
        value(2, 5),
    ),
    "comment": row(value(1)) + b"<!-- a comment -->" + row(value(2, 3)),
}


@pytest.mark.parametrize("case", list(ODS_ODDITIES))
def test_ods_markup_inside_cells_is_skipped_as_calamine_skips_it(case: str) -> None:
    assert_limit_is_exact(Format.ODS, ods(ODS_ODDITIES[case]))


def test_ods_row_inside_a_cell_does_not_hide_the_cells_after_it() -> None:
    # Were the row inside the cell taken for a row of the sheet, the cell after it would fall outside
    # any row and go uncounted; calamine counts it.
    message = refusal(Format.ODS, ods(row(FLOAT_CELL_WITH % b"<table:table-row/>", value(2, 1_000_000_000))))
    assert "spans 1 rows x 1,000,000,001 columns" in message


@pytest.mark.parametrize("rows", [*ODS_SHAPES, *ODS_ODDITIES.values()])
def test_ods_parser_counts_as_calamine_too(rows: bytes) -> None:
    data = ods(rows)
    area = calamine_area(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        count_with_parser(archive, area)  # the parser alone, however the file would be read
        with pytest.raises(UnsafeFile):
            count_with_parser(archive, area - 1)


def test_xlsb_far_cell_is_refused() -> None:
    message = refusal(Format.XLSB, xlsb([(0, 0, 1.0), (1, FAR_COLUMN, 2.0)]))
    assert message == (
        f"sheet 'Sheet1' spans 2 rows x {FAR_COLUMN + 1:,} columns, more than the limit of {MAX:,} cells; "
        "delete the far-away cells or split the sheet"
    )


def test_xlsb_styled_empty_cells_cost_nothing() -> None:
    data = xlsb([(0, 0, 1.0)], blanks=[(1_048_575, 16_383), (2, FAR_COLUMN)])
    check(Format.XLSB, data, 1)
    assert calamine_area(data) == 1


def test_xlsb_rows_past_the_last_end_the_sheet() -> None:
    # calamine stops at a row header past 0x100000: the far cell after it is never read.
    data = xlsb([(0, 0, 1.0), (0x100001, FAR_COLUMN, 2.0)])
    check(Format.XLSB, data, 1)
    assert calamine_area(data) == 1


def test_xls_far_cell_is_refused_whatever_dimensions_says() -> None:
    message = refusal(Format.XLS, xls([(0, 0, 1.0), (65_535, 65_535, 2.0)], dimensions=(0, 1, 0, 1)))
    assert message.startswith("sheet 'Sheet1' spans 65,536 rows x 65,536 columns, more than the limit")


def test_xls_rows_out_of_order_wrap_as_in_calamine() -> None:
    # calamine's rows run from the first cell read to the last in u32 arithmetic: a near cell after a
    # far one asks for four billion rows.
    message = refusal(Format.XLS, xls([(9, 0, 1.0), (2, 0, 2.0)], dimensions=(0, 10, 0, 1)))
    assert "spans 4,294,967,290 rows x 1 columns" in message


def test_xls_dimensions_reservation_is_bounded() -> None:
    # calamine reserves DIMENSIONS' rows x columns before any cell is read (last row 0: 2**32 - 5 rows).
    message = refusal(Format.XLS, xls([(0, 0, 1.0)], dimensions=(5, 1, 0, 1)))
    assert "spans 4,294,967,292 rows x 1 columns" in message


def test_xls_stream_is_the_one_calamine_reads() -> None:
    # calamine reads "Workbook" when there is one, wherever it sits in the directory, else "Book".
    near = xls([(0, 0, 1.0)], stream_name=None)
    far = xls([(0, 0, 1.0), (65_535, 65_535, 2.0)], dimensions=(0, 1, 0, 1), stream_name=None)
    message = refusal(Format.XLS, compound_file({"Book": near, "Workbook": far}))
    assert "spans 65,536 rows x 65,536 columns" in message
    check(Format.XLS, compound_file({"Book": far, "Workbook": near}), 1)


def test_xls_styled_empty_cells_cost_nothing() -> None:
    # Blank records are not read; DIMENSIONS covering them out to the last BIFF8 cell is 16.8 million.
    data = xls([(0, 0, 1.0)], blanks=[(65_535, 255)])
    check(Format.XLS, data)
    assert calamine_area(data) == 1


def test_ods_value_repeated_across_columns_and_a_far_cell_is_refused() -> None:
    rows = row(value(1, 16_384)) + row(empty(16_384), repeats=1_048_000) + row(empty(16_383), value(2))
    message = refusal(Format.ODS, ods(rows))
    assert message.startswith("sheet 'Sheet1' spans 1,048,002 rows x 16,384 columns, more than the limit")


def test_ods_empty_cells_before_a_value_are_all_held() -> None:
    # The rectangle is one cell, but calamine pushes the billion empty cells before it first.
    message = refusal(Format.ODS, ods(row(empty(1_000_000_000), value(1))))
    assert "spans 1 rows x 1,000,000,001 columns" in message


def test_ods_formulas_get_their_own_rectangle() -> None:
    # Cells with a formula and no cached value are empty values, but calamine keeps a formula range too.
    formula = b'<table:table-cell table:formula="of:=1"%s/>'
    rows = row(formula % b"") + row(empty(), repeats=5_000) + row(formula % b' table:number-columns-repeated="16384"')
    message = refusal(Format.ODS, ods(rows))
    assert "spans 5,002 rows x 16,384 columns" in message


def test_ods_styled_empty_cells_out_to_the_last_cell_cost_nothing() -> None:
    data = ods(row(value(1), empty(16_383)) + row(empty(16_384), repeats=1_048_575))
    check(Format.ODS, data, 1)
    assert calamine_area(data) == 1


def test_ods_tables_without_a_name_are_not_read() -> None:
    check(Format.ODS, ods(row(value(1, 1_000_000_000)), table=b'table:style-name="ta1"'), 1)


def test_extract_refuses_before_calamine_reads() -> None:
    # Small enough that calamine would read it, so a missing pre-check fails here instead of aborting.
    data = xls([(0, 0, 1.0), (200, 200, 2.0)])
    with pytest.raises(UnsafeFile, match=r"^sheet 'Sheet1' spans 201 rows x 201 columns"):
        extract_workbook(data, ExtractRequest(None, {}), Limits(max_sheet_cells=10_000), "far.xls", progress=(0, 1))
    result = extract_workbook(data, ExtractRequest(None, {}), Limits(), "far.xls", progress=(0, 1))
    assert result["sheet_names"] == ["Sheet1"]


SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
FAR_XLSX_SHEET = (
    SHEET_HEAD
    + b'<row r="1"><c r="A1"><v>1</v></c></row><row r="301"><c r="GS301"><v>2</v></c></row></sheetData></worksheet>'
)


def extract_with_limit(data: bytes, max_cells: int) -> dict[str, Any]:
    return extract_workbook(
        data, ExtractRequest(None, {}), Limits(max_sheet_cells=max_cells), "in.xlsx", progress=(0, 1)
    )


def test_a_zip_calamine_reads_as_xlsx_is_checked_as_xlsx_whatever_else_it_holds() -> None:
    # An .xlsb's parts beside an .xlsx's: we name it .xlsb, calamine opens it with its .xlsx reader.
    parts = zipfile.ZipFile(io.BytesIO(xlsb([(0, 0, 1.0)])))
    extra = {
        name: parts.read(name) for name in ("xl/workbook.bin", "xl/worksheets/sheet1.bin", "xl/_rels/workbook.bin.rels")
    }
    data = rezip(report_workbook(), {"xl/worksheets/sheet2.xml": FAR_XLSX_SHEET}, extra=extra)
    assert calamine_area_of(data, "Other") == 301 * 201
    with pytest.raises(UnsafeFile, match=r"^sheet 'Other' spans 301 rows x 201 columns"):
        extract_with_limit(data, 10_000)


def test_a_zip_calamine_reads_as_ods_is_checked_as_ods_whatever_else_it_holds() -> None:
    # An .xlsx without its workbook part (calamine's .xlsx reader fails) and an .ods content.xml.
    parts = zipfile.ZipFile(io.BytesIO(ods(row(value(1)) + row(value(2, 300), repeats=40))))
    extra = {name: parts.read(name) for name in parts.namelist()}
    data = rezip(report_workbook(), {"xl/workbook.xml": b""}, extra=extra)
    assert calamine_area_of(data, "Sheet1") == 41 * 300
    with pytest.raises(UnsafeFile, match=r"^sheet 'Sheet1' spans 41 rows x 300 columns"):
        extract_with_limit(data, 10_000)


def calamine_area_of(data: bytes, sheet: str) -> int:
    found = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet)
    return int(found.height * found.width)


def test_a_damaged_content_xml_beside_an_xlsx_workbook_does_not_refuse_it() -> None:
    # calamine reads the workbook as .xlsx; a stray content.xml it never reads is no reason to refuse.
    data = rezip(report_workbook(), {}, extra={"content.xml": b"<a><!-- not well-formed"})
    assert extract_with_limit(data, MAX)["sheet_names"] == ["Report", "Other"]
