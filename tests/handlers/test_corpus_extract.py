"""Whole-workbook extract of every corpus workbook, compared cell by cell with calamine and openpyxl.

Each readable file's extract must equal the documented table built straight from calamine's values
(docjobs reads with calamine), and wherever calamine and openpyxl (data_only) disagree on a cell the
difference must be one of the documented kinds (tests/handlers/reference_values.py). Files that are
refused must be refused for their real reason, in a bounded message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from handlers.common.errors import MAX_MESSAGE_CHARS, HandlerError, InvalidFile, UnsafeFile
from handlers.common.safety import Limits
from handlers.extract import ExtractRequest, extract_workbook
from tests.corpus import CORPUS, corpus_params, require_corpus_file
from tests.handlers.reference_values import (
    calamine_grids,
    disagreement,
    expected_table,
    json_value,
    openpyxl_grids,
)

FILES = corpus_params("xlsx") + corpus_params("other")

# The files that are not workbooks docjobs can read, and what their message must say.
REFUSED: dict[str, tuple[type[HandlerError], str]] = {
    "apache__poifs_protect.xlsx": (InvalidFile, "is encrypted"),
    "apache__spreadsheet_protected_passtika.xlsx": (InvalidFile, "is encrypted"),
    "tafia__pass_protected.xlsx": (InvalidFile, "is encrypted"),
    "tafia__pass_protected.xlsb": (InvalidFile, "is encrypted"),
    "apache__spreadsheet_poc-xmlbomb.xlsx": (UnsafeFile, "declares a DTD"),
    # A sheet whose cell references have no row number: calamine refuses it, and so do we.
    "apache__spreadsheet_poc-shared-strings.xlsx": (InvalidFile, "cannot be read .*row component"),
    # calamine panics on this file's workbook part (no entry found for a key): damaged for us.
    "apache__spreadsheet_Simple.xlsb": (InvalidFile, "damaged or not readable as a workbook"),
    "SheetJS__Attendance.numbers": (InvalidFile, "is an Apple Numbers file; export it as Excel"),
    "exceljs__test-issue-991.csv": (InvalidFile, r"is a text file \(CSV or similar\), not a workbook"),
}


def run_extract(path: Path) -> dict[str, Any]:
    return extract_workbook(path.read_bytes(), ExtractRequest(None, {}), Limits(), path.name, progress=(0, 1))


@pytest.mark.parametrize("path", FILES)
def test_whole_workbook_extract_matches_the_readers(path: Path | None) -> None:
    path = require_corpus_file(path)
    if path.name in REFUSED:
        kind, reason = REFUSED[path.name]
        with pytest.raises(kind) as refused:
            run_extract(path)
        message = str(refused.value)
        assert re.search(reason, message), message
        assert message.startswith(path.name) or message.startswith("sheet "), message
        assert len(message) <= MAX_MESSAGE_CHARS and " at 0x" not in message
        return
    data = path.read_bytes()
    result = run_extract(path)
    grids = calamine_grids(data)
    assert result["sheet_names"] == list(grids)
    for sheet, (cells, merged) in grids.items():
        assert result["sheets"][sheet]["tables"] == expected_table(sheet, cells, merged), sheet
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        _assert_readers_agree_but_for_documented_kinds(path.name, grids, openpyxl_grids(data))


def _assert_readers_agree_but_for_documented_kinds(
    name: str, grids: dict[str, Any], theirs: dict[str, dict[tuple[int, int], Any]] | None
) -> None:
    if theirs is None or not set(grids) <= set(theirs):
        # openpyxl cannot read Strict OOXML, nor a few damaged-but-readable files: calamine alone.
        assert name in OPENPYXL_CANNOT_READ, f"openpyxl could not read {name}"
        return
    unexplained = []
    for sheet, (cells, _merged) in grids.items():
        other = theirs[sheet]
        for pos in cells.keys() | other.keys():
            ours, their = cells.get(pos), other.get(pos)
            if json_value(ours) != json_value(their) and disagreement(ours, their) is None:
                unexplained.append((sheet, pos, ours, their))
    assert not unexplained, f"{len(unexplained)} cells differ in no documented way: {unexplained[:5]}"


OPENPYXL_CANNOT_READ = {
    "SheetJS__sheet_visibility_strict.xlsx",  # Strict OOXML
    "apache__spreadsheet_SampleSS.strict.xlsx",
    "apache__spreadsheet_SimpleStrict.xlsx",
    "apache__spreadsheet_sample.strict.xlsx",
    "tafia__strict_iso_paths.xlsx",
    "SheetJS__pivot_table_named_range.xlsx",  # openpyxl fails on its pivot or picture parts
    "apache__spreadsheet_picture.xlsx",
    "SheetJS__wtf_path.xlsx",
    "exceljs__invalid-xml.xlsx",
}


def test_strict_workbooks_extract_their_sheets() -> None:
    # A Strict OOXML workbook once extracted as {"sheets": {}}: now every sheet comes with its values.
    path = require_corpus_file(CORPUS / "xlsx" / "apache__spreadsheet_SimpleStrict.xlsx")
    result = run_extract(path)
    assert result["sheet_names"] == ["Sheet1", "Sheet Number 2"]
    assert all(result["sheets"][sheet]["tables"] for sheet in result["sheet_names"])
