"""One test per defect of the openpyxl-based update (issue 11), on real workbooks of the shared corpus."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from handlers.common.errors import InvalidFile, PayloadError, SheetNotFound, UpdateFailed
from handlers.common.ooxml import STRICT, sheet_parts
from handlers.extract import extract
from handlers.update import XLSM_TYPE, update, validate
from tests.corpus import CORPUS, corpus_params, require_corpus_file
from tests.handlers.update_parts import entries, output_file, payload, sheet_cells, sheet_rows


def corpus(name: str) -> bytes:
    """A workbook of the shared corpus (fails on CI, skips locally, when the corpus is absent)."""
    return require_corpus_file(CORPUS / "xlsx" / name).read_bytes()


def run(data: bytes, updates: list[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    """Validate and run an update; the output workbook and the result's data."""
    body = payload(data, updates)
    validate(body)
    result = update(body)
    return output_file(result), result["data"]


def unchanged_except(before: bytes, after: bytes, changed: set[str]) -> None:
    """Every part of `before` but `changed` is in `after`, byte for byte."""
    old, new = entries(before), entries(after)
    for name, data in old.items():
        if name not in changed:
            assert new.get(name) == data, f"{name} changed"


def values(data: bytes, sheet: str) -> list[list[Any]]:
    """A sheet's whole-sheet extract as rows of values (headers first)."""
    from handlers.common.sources import file_result

    encoded = file_result("x.xlsx", data, "")["base64"]
    table = extract({"excel_base64": encoded, "sheet_names": [sheet]})["data"]["sheets"][sheet]["tables"][0]
    return [table["headers"], *([row[h] for h in table["headers"]] for row in table["rows"])]


def test_a_strict_workbook_keeps_its_sheets_and_namespaces() -> None:
    before = corpus("apache__spreadsheet_SimpleStrict.xlsx")
    after, _ = run(before, [{"sheet": "Sheet1", "cell": "B1", "value": "new"}, {"create_sheet": "Added"}])
    with zipfile.ZipFile(io.BytesIO(after)) as archive:
        assert list(sheet_parts(archive)) == ["Sheet1", "Sheet Number 2", "Added"]
        added = archive.read(sheet_parts(archive)["Added"])
    assert STRICT.spreadsheet.encode() in added and b"openxmlformats.org/spreadsheetml" not in added
    assert STRICT.relationships.encode() + b"/worksheet" in entries(after)["xl/_rels/workbook.xml.rels"]
    assert b'<c r="B1" t="inlineStr"><is><t>new</t></is></c>' in entries(after)["xl/worksheets/sheet1.xml"]
    unchanged_except(before, after, {"xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                                     "[Content_Types].xml", "xl/calcChain.xml"})  # fmt: skip


@pytest.mark.parametrize("name", ["apache__spreadsheet_58325_db.xlsx", "apache__spreadsheet_ExcelWithAttachments.xlsm"])
def test_emf_pictures_and_embedded_objects_are_kept(name: str) -> None:
    before = corpus(name)
    with zipfile.ZipFile(io.BytesIO(before)) as archive:
        sheet, part = next(iter(sheet_parts(archive).items()))
    after, data = run(before, [{"sheet": sheet, "append_rows": [["x"]]}])
    kept = entries(after)
    media = [n for n in entries(before) if n.lower().endswith((".emf", ".wmf")) or "/embeddings/" in n]
    assert media and all(kept[n] == entries(before)[n] for n in media)
    unchanged_except(before, after, {part, "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml",
                                     "xl/calcChain.xml"})  # fmt: skip
    if name.endswith(".xlsm"):
        assert data["file"]["content_type"] == XLSM_TYPE


@pytest.mark.parametrize(
    "name", ["apache__spreadsheet_ConditionalFormattingSamples.xlsx", "apache__spreadsheet_simple-monthly-budget.xlsx"]
)
def test_custom_xml_and_printer_settings_are_kept(name: str) -> None:
    before = corpus(name)
    with zipfile.ZipFile(io.BytesIO(before)) as archive:
        sheet = next(iter(sheet_parts(archive)))
    after, _ = run(before, [{"sheet": sheet, "cell": "ZZ1", "value": 1}])
    old, new = entries(before), entries(after)
    kept = [n for n in old if n.startswith("customXml/") or "printerSettings" in n]
    assert any(n.startswith("customXml/") for n in kept) and any("printerSettings" in n for n in kept)
    assert all(new[n] == old[n] for n in kept)


def test_dynamic_array_formulas_and_their_metadata_are_kept() -> None:
    before = corpus("apache__spreadsheet_xlookup.xlsx")
    after, _ = run(before, [{"sheet": "Sheet1", "cell": "B2", "value": 4390}])
    old = sheet_cells(entries(before)["xl/worksheets/sheet1.xml"])
    new = sheet_cells(entries(after)["xl/worksheets/sheet1.xml"])
    assert b'cm="1"' in old[1, 2] and new[1, 2] == old[1, 2]  # C2: =XLOOKUP(...) spilling into D2
    assert new[1, 1] == b'<c r="B2"><v>4390</v></c>'
    assert entries(after)["xl/metadata.xml"] == entries(before)["xl/metadata.xml"]


def test_untouched_numbers_keep_their_exact_text() -> None:
    before = corpus("apache__spreadsheet_FormulaEvalTestData_Copy.xlsx")
    with zipfile.ZipFile(io.BytesIO(before)) as archive:
        sheet, part = next(iter(sheet_parts(archive).items()))
    after, _ = run(before, [{"sheet": sheet, "cell": "A1", "value": 0.1 + 0.2}])
    old, new = sheet_cells(entries(before)[part]), sheet_cells(entries(after)[part])
    numbers = [p for p, cell in old.items() if re.search(rb"<v>-?[0-9]+\.[0-9]+", cell) and p != (0, 0)]
    assert len(numbers) > 100 and all(new[p] == old[p] for p in numbers)
    assert b"<v>0.30000000000000004</v>" in new[0, 0]  # repr(): the double itself, no digit lost


@pytest.mark.parametrize("name", ["apache__spreadsheet_59746_NoRowNums.xlsx", "SheetJS__minimal_112.xlsx"])
def test_a_workbook_without_calc_pr_gets_one_in_its_schema_place(name: str) -> None:
    before = corpus(name)
    assert b"calcPr" not in entries(before)["xl/workbook.xml"]
    with zipfile.ZipFile(io.BytesIO(before)) as archive:
        sheet = next(iter(sheet_parts(archive)))
    after, _ = run(before, [{"sheet": sheet, "cell": "B2", "formula": "=1+1"}])
    workbook = entries(after)["xl/workbook.xml"]
    assert re.search(rb'<(\w+:)?sheets>.*</(\w+:)?sheets><(\w+:)?calcPr fullCalcOnLoad="1"/>', workbook, re.S)


def test_rows_without_numbers_keep_their_implicit_positions() -> None:
    before = corpus("apache__spreadsheet_59746_NoRowNums.xlsx")
    after, _ = run(
        before, [{"sheet": "features", "cell": "B2", "value": "x"}, {"sheet": "Features", "append_rows": [["y"]]}]
    )
    old_rows, new_rows = (
        list(sheet_rows(entries(before)["xl/worksheets/sheet.xml"])),
        list(sheet_rows(entries(after)["xl/worksheets/sheet.xml"])),
    )
    assert [r.number for r in new_rows] == [*(r.number for r in old_rows), len(old_rows) + 1]
    assert new_rows[1].explicit and not old_rows[1].explicit
    assert all(new.data == old.data for new, old in zip(new_rows[2:], old_rows[2:], strict=False))
    assert values(after, "Features")[1][1] == "x" and values(after, "Features")[-1][0] == "y"


def test_pivot_tables_and_their_caches_are_kept() -> None:
    before = corpus("tafia__pivots.xlsx")
    after, _ = run(before, [{"sheet": "DataSheet", "append_rows": [[11, "k", "blue", 5]]}])
    old, new = entries(before), entries(after)
    pivot = [n for n in old if n.startswith(("xl/pivotTables/", "xl/pivotCache/"))]
    assert len(pivot) >= 5 and all(new[n] == old[n] for n in pivot)
    assert values(after, "DataSheet")[-1][:4] == [11, "k", "blue", 5]


def test_records_appended_to_a_table_go_above_its_totals_row() -> None:
    before = corpus("apache__spreadsheet_table-sample.xlsx")
    after, _ = run(before, [{"sheet": "Tabelle1", "append_rows": [["e", 5, 10], ["f", 6]], "table": "tabelle1"}])
    table = entries(after)["xl/tables/table1.xml"]
    assert b'ref="C4:G11" totalsRowCount="1"' in table and b'<autoFilter ref="C4:G10"' in table
    old = sheet_cells(entries(before)["xl/worksheets/sheet1.xml"])
    new = sheet_cells(entries(after)["xl/worksheets/sheet1.xml"])
    for col in range(2, 7):  # the totals row moved from row 9 to row 11, formulas and all
        assert new[10, col] == old[8, col].replace(
            b'r="' + bytes([65 + col]) + b'9"', b'r="' + bytes([65 + col]) + b'11"'
        )
    assert b"<t>e</t>" in new[8, 2] and b"<v>6</v>" in new[9, 3] and b"<v>" not in new[9, 4]
    assert new[8, 6].startswith(b'<c r="G9" s="1"')  # styled like the table's last record


def test_a_table_cannot_grow_over_values_below_it() -> None:
    before = corpus("apache__spreadsheet_table-sample.xlsx")
    with pytest.raises(UpdateFailed, match="cannot extend table 'Tabelle1': row 11 below it is not empty"):
        run(before, [{"sheet": "Tabelle1", "cell": "C11", "value": "blocker"},
                     {"sheet": "Tabelle1", "append_rows": [["e"], ["f"]], "table": "Tabelle1"}])  # fmt: skip


def test_sheet_names_match_ignoring_case_as_in_excel() -> None:
    before = corpus("apache__spreadsheet_SimpleStrict.xlsx")
    after, _ = run(before, [{"sheet": "sheet1", "cell": "B1", "value": "found"}])
    assert b"<t>found</t>" in entries(after)["xl/worksheets/sheet1.xml"]
    with pytest.raises(UpdateFailed, match="sheet 'sheet1' clashes with sheet 'Sheet1': Excel sheet names ignore case"):
        run(before, [{"create_sheet": "sheet1"}])
    with pytest.raises(PayloadError, match=r"updates\[1\]\.create_sheet: 'new' is the same sheet name as 'NEW'"):
        validate(payload(before, [{"create_sheet": "NEW"}, {"create_sheet": "new"}]))
    with pytest.raises(SheetNotFound, match="sheet 'Nope' not found; the workbook has: 'Sheet1', 'Sheet Number 2'"):
        run(before, [{"sheet": "Nope", "cell": "A1", "value": 1}])


@pytest.mark.parametrize("text", ["#N/A", "=1+1", "+SUM(A1)", "@x", "TRUE", "007"])
def test_strings_stay_text_even_when_they_look_like_errors_or_formulas(text: str) -> None:
    before = corpus("apache__spreadsheet_SimpleStrict.xlsx")
    after, _ = run(before, [{"sheet": "Sheet1", "cell": "B1", "value": text}])
    cell = sheet_cells(entries(after)["xl/worksheets/sheet1.xml"])[0, 1]
    assert cell.startswith(b'<c r="B1" t="inlineStr"><is><t>') and b"<f>" not in cell
    assert values(after, "Sheet1")[0][1] == text


def test_a_written_formula_has_no_cached_value_and_excel_recalculates_on_open() -> None:
    before = corpus("apache__spreadsheet_table-sample.xlsx")
    after, _ = run(before, [{"sheet": "Tabelle1", "cell": "D5", "formula": "SUM(D6:D8)"}])
    new = entries(after)
    assert sheet_cells(new["xl/worksheets/sheet1.xml"])[4, 3] == b'<c r="D5"><f>SUM(D6:D8)</f></c>'
    assert b'<calcPr calcId="191029" fullCalcOnLoad="1"/>' in new["xl/workbook.xml"]
    # The calculation chain named the old formula cells: it is dropped with its relationship and content type.
    assert "xl/calcChain.xml" not in new
    assert b"calcChain" not in new["xl/_rels/workbook.xml.rels"] + new["[Content_Types].xml"]


def test_overwriting_the_master_of_a_shared_formula_writes_the_formula_out_into_its_other_cells() -> None:
    before = corpus("apache__spreadsheet_shared_formulas.xlsx")
    old = sheet_cells(entries(before)["xl/worksheets/sheet1.xml"])
    assert b'<f t="shared" ref="A2:A41" si="0">B2</f>' in old[1, 0] and b'<f t="shared" si="0"/>' in old[2, 0]
    after, _ = run(before, [{"sheet": "Label", "cell": "A2", "value": "x"}])
    new = sheet_cells(entries(after)["xl/worksheets/sheet1.xml"])
    assert new[1, 0] == b'<c r="A2" t="inlineStr"><is><t>x</t></is></c>'
    assert new[2, 0] == old[2, 0].replace(b'<f t="shared" si="0"/>', b"<f>B3</f>")
    assert new[40, 0] == old[40, 0].replace(b'<f t="shared" si="0"/>', b"<f>B41</f>")
    assert all(new[p] == cell for p, cell in old.items() if p[1] != 0)
    after, _ = run(before, [{"sheet": "Label", "cell": "A3", "value": "x"}])  # a cell using it: the rest stays
    new = sheet_cells(entries(after)["xl/worksheets/sheet1.xml"])
    assert b"<t>x</t>" in new[2, 0] and new[1, 0] == old[1, 0] and new[3, 0] == old[3, 0]


def test_dates_are_serials_in_the_workbooks_date_system_with_a_date_format() -> None:
    for name, serial in (("exceljs__1904.xlsx", b"43645"), ("apache__spreadsheet_SimpleStrict.xlsx", b"45107")):
        before = corpus(name)
        with zipfile.ZipFile(io.BytesIO(before)) as archive:
            sheet, part = next(iter(sheet_parts(archive).items()))
        after, _ = run(before, [{"sheet": sheet, "cell": "H1", "value": "2023-06-30", "type": "date"}])
        cell = sheet_cells(entries(after)[part])[0, 7]
        assert b"<v>" + serial + b"</v>" in cell
        style = int(re.search(rb's="([0-9]+)"', cell).group(1))  # type: ignore[union-attr]
        xfs = re.findall(rb"<xf [^>]*>", entries(after)["xl/styles.xml"].split(b"<cellXfs")[1])
        assert b'numFmtId="14"' in xfs[style]


def test_numbers_booleans_and_null_are_written_as_excel_stores_them() -> None:
    before = corpus("apache__spreadsheet_table-sample.xlsx")
    updates = [{"sheet": "Tabelle1", "anchor": "D5", "values": [[1e-7, True, None]]}]
    cells = sheet_cells(entries(run(before, updates)[0])["xl/worksheets/sheet1.xml"])
    assert (cells[4, 3], cells[4, 4]) == (b'<c r="D5"><v>1e-07</v></c>', b'<c r="E5" t="b"><v>1</v></c>')
    assert cells[4, 5] == b'<c r="F5"/>'


@pytest.mark.parametrize("path", corpus_params("other"))
def test_other_formats_are_refused_naming_the_formats_update_takes(path: Path | None) -> None:
    source = require_corpus_file(path)
    with pytest.raises(InvalidFile) as failure:
        update(payload(source.read_bytes(), [{"sheet": "Sheet1", "cell": "A1", "value": 1}], source.name))
    message = str(failure.value)
    assert message.startswith(source.name) and len(message) <= 300
    assert "update takes Excel workbooks saved as .xlsx or .xlsm" in message


def test_creating_a_sheet_alone_keeps_the_calculation_chain_and_the_package_consistent() -> None:
    before = corpus("apache__spreadsheet_table-sample.xlsx")
    after, _ = run(before, [{"create_sheet": "Extra"}])
    new = entries(after)
    assert new["xl/calcChain.xml"] == entries(before)["xl/calcChain.xml"]
    assert b"calcChain" in new["xl/_rels/workbook.xml.rels"] and b"/xl/calcChain.xml" in new["[Content_Types].xml"]
    assert b'PartName="/xl/worksheets/sheet2.xml"' in new["[Content_Types].xml"]
    assert b"fullCalcOnLoad" not in new["xl/workbook.xml"]
    assert values(after, "Tabelle1")[0][0] == "Field 1"


def test_text_that_xml_cannot_hold_is_written_in_excels_escapes() -> None:
    before = corpus("apache__spreadsheet_SimpleStrict.xlsx")
    text = "tab\tline\nbell\x07 literal _x0041_ <&>"
    after, _ = run(before, [{"sheet": "Sheet1", "cell": "B1", "value": text}])
    cell = sheet_cells(entries(after)["xl/worksheets/sheet1.xml"])[0, 1]
    assert b"bell_x0007_ literal _x005F_x0041_ &lt;&amp;&gt;" in cell and b'xml:space="preserve"' in cell
    assert values(after, "Sheet1")[0][1] == text


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/theme/theme1.xml"])
def test_a_part_with_corrupt_data_is_a_short_clear_failure(part: str) -> None:
    source = entries(corpus("apache__spreadsheet_table-sample.xlsx"))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as archive:
        for name, data in source.items():
            # Padding past the 64 KiB that the package check reads, so only the update meets the damage.
            archive.writestr(name, data + b" " * 70_000 if name == part else data)
    damaged = bytearray(packed.getvalue())
    offset = damaged.index(source[part][-40:]) + 10
    damaged[offset] ^= 0x01  # one flipped bit: the CRC no longer matches
    with pytest.raises(InvalidFile) as failure:
        run(bytes(damaged), [{"sheet": "Tabelle1", "cell": "A1", "value": 1}])
    message = str(failure.value)
    assert message.startswith("book.xlsx is damaged") and "corrupt data or a wrong checksum" in message
    assert len(message) <= 300 and "<" not in message


def test_a_date_written_into_a_workbook_without_styles_gets_a_styles_part() -> None:
    before = corpus("tafia__inlineStr_cdata.xlsx")
    assert not any("styles" in name for name in entries(before))
    with zipfile.ZipFile(io.BytesIO(before)) as archive:
        sheet, part = next(iter(sheet_parts(archive).items()))
    after, _ = run(before, [{"sheet": sheet, "cell": "H1", "value": "2023-06-30", "type": "date"}])
    new = entries(after)
    assert b'numFmtId="14"' in new["xl/styles.xml"] and b'<c r="H1" s="1"><v>45107</v></c>' in new[part]
    assert (
        b"/styles" in new["xl/_rels/workbook.xml.rels"] and b'PartName="/xl/styles.xml"' in new["[Content_Types].xml"]
    )
    encoded = payload(after, [])["excel_base64"]
    grid = extract({"excel_base64": encoded, "config": {"sheets": {sheet: {"extraction_rules": [
        {"type": "cell", "key": "d", "cell": "H1"}]}}}})["data"]["sheets"][sheet]  # fmt: skip
    assert grid["key_value_pairs"]["d"] == "2023-06-30"
