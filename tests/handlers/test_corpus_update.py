"""Update every real workbook of the shared corpus: one cell written, one row appended, nothing else changed.

Each output is compared part by part with its input (only the written sheet and the workbook part may
differ, plus the workbook's relationships and content types when a calcChain is dropped) and cell by
cell inside the written sheet; then ONE LibreOffice run converts every output to CSV and the written
values are read back from what LibreOffice saw.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from handlers.common.errors import HandlerError
from handlers.common.ooxml import relationships, sheet_parts
from handlers.update import update
from handlers.xlsx.cells import column_letters
from tests.corpus import CORPUS, corpus_files, corpus_params, require_corpus_file
from tests.handlers.update_parts import entries, output_file, payload, row_cells, sheet_rows
from tests.libreoffice import sheet_csv

# Still run by CI, which has the corpus and LibreOffice. The module fixture updates every corpus workbook
# and converts the outputs in one LibreOffice run, all inside the first test's time limit: about 27 s on
# a quiet machine, far past the suite's 30 s on a loaded one.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CELL_TEXT, ROW_TEXT, ROW_NUMBER = "docjobs cell", "docjobs row", 12345.678
# The corpus workbooks update refuses, and why: nothing else may fail.
REFUSED = {
    "apache__poifs_protect.xlsx": "is password-protected",  # an encrypted package (MS-OFFCRYPTO)
    "apache__spreadsheet_protected_passtika.xlsx": "is password-protected",
    "tafia__pass_protected.xlsx": "is password-protected",
    "apache__spreadsheet_poc-xmlbomb.xlsx": "declares a DTD",  # a billion-laughs entity bomb
    "apache__spreadsheet_poc-shared-strings.xlsx": "has a row numbered 0",  # rows are 1 to 1048576
    "exceljs__invalid-xml.xlsx": "has text outside its root element",  # `foo` before <worksheet>
}
_VALUE = re.compile(rb"<(?:\w+:)?(?:v|f|is)[\s>]")
_CALC_PR = re.compile(rb"<(?:\w+:)?calcPr\b[^>]*>")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What updating one corpus file gave."""

    source: Path
    sheet: str
    sheet_part: str
    cell: tuple[int, int]
    output: bytes | None
    error: str | None
    csv_dir: Path | None = None


def _target(data: bytes) -> tuple[str, str, tuple[int, int]]:
    """The first worksheet, and a free cell in its first row right of everything in the sheet."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = list(sheet_parts(archive).items())
        # LibreOffice rebuilds pivot table output when it opens a file, overwriting cells near it.
        plain = [
            (n, p)
            for n, p in sheets
            if not any(k.endswith("/pivotTable") for k, _ in relationships(archive, p).values())
        ]
        name, part = (plain or sheets)[0]
        first = next(sheet_rows(archive.read(part), part), None)
    if first is None:
        return name, part, (0, 0)
    cells = row_cells(first.data)
    # max(): a damaged row number 0 must reach the handler, which refuses the file.
    return name, part, (max(first.number - 1, 0), min(max(cells, default=-1) + 2, 16_383))


def _update(path: Path) -> Outcome:
    data = path.read_bytes()
    try:
        sheet, part, (row, col) = _target(data)
    except (zipfile.BadZipFile, HandlerError, StopIteration):
        sheet, part, (row, col) = "Sheet1", "", (0, 0)
    updates: list[dict[str, Any]] = [
        {"sheet": sheet, "cell": f"{column_letters(col)}{row + 1}", "value": CELL_TEXT},
        {"sheet": sheet, "append_rows": [[ROW_TEXT, ROW_NUMBER]]},
    ]
    try:
        output = output_file(update(payload(data, updates, path.name)))
    except HandlerError as error:
        return Outcome(path, sheet, part, (row, col), None, str(error))
    return Outcome(path, sheet, part, (row, col), output, None)


# Updates beyond one cell and one row, read back in the same LibreOffice batch:
# (id, corpus workbook, updates, [(sheet, 0-based row, column, a regex of what LibreOffice shows)]).
# Dates show in LibreOffice's locale: US by default, ISO or day-first elsewhere.
_DATE = r"(06/30/2023|2023-06-30|30\.06\.2023|30/06/2023)"
SCENARIOS: list[tuple[str, str, list[dict[str, Any]], list[tuple[str, int, int, str]]]] = [
    (
        "table-totals",
        "apache__spreadsheet_table-sample.xlsx",
        [{"sheet": "Tabelle1", "append_rows": [["e", 5, 10], ["f", 6]], "table": "Tabelle1"}],
        [("Tabelle1", 7, 2, "d"), ("Tabelle1", 8, 2, "e"), ("Tabelle1", 9, 3, "6"), ("Tabelle1", 10, 2, "Ergebnis")],
    ),
    (
        "strict-date-formula-sheet",
        "apache__spreadsheet_SimpleStrict.xlsx",
        [
            {"sheet": "Sheet1", "cell": "H1", "value": "2023-06-30", "type": "date"},
            {"sheet": "Sheet1", "cell": "B2", "formula": "C1+C2"},
            {"create_sheet": "New"},
            {"sheet": "new", "anchor": "A1", "values": [["k", True], [None, 1.5]]},
        ],
        [("Sheet1", 0, 7, _DATE), ("Sheet1", 1, 1, "3"), ("New", 0, 1, "TRUE"), ("New", 1, 1, "1.5")],
    ),
    (
        "shared-formula-master",
        "apache__spreadsheet_shared_formulas.xlsx",
        [{"sheet": "Label", "cell": "A2", "value": "x"}],
        [("Label", 1, 0, "x"), ("Label", 2, 0, "RequiredAcceptanceDate")],
    ),
    (
        "date-1904",
        "exceljs__1904.xlsx",
        [{"sheet": "Sheet1", "cell": "H1", "value": "2023-06-30T12:00:00", "type": "date"}],
        [("Sheet1", 0, 7, _DATE + " 12:00(:00)?")],
    ),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every corpus workbook updated, and the outputs converted to CSV by one LibreOffice run."""
    results = {path.name: _update(path) for path in corpus_files("xlsx")}
    for scenario, name, updates, _ in SCENARIOS:
        source = CORPUS / "xlsx" / name
        if source.is_file():
            output = output_file(update(payload(source.read_bytes(), updates, name)))
            results[f"scenario-{scenario}.xlsx"] = Outcome(source, "", "", (0, 0), output, None)
    folder = tmp_path_factory.mktemp("updated")
    written: dict[Path, str] = {}
    for name, outcome in results.items():
        if outcome.output is not None:
            target = folder / name
            target.write_bytes(outcome.output)
            written[target] = name
    converted = sheet_csv(list(written), folder / "csv") if written else {}
    for target, csv_dir in converted.items():
        outcome = results[written[target]]
        results[written[target]] = dataclasses.replace(outcome, csv_dir=csv_dir)
    return results


@pytest.mark.parametrize("path", corpus_params("xlsx"))
def test_an_update_changes_only_what_it_writes(path: Path | None, outcomes: dict[str, Outcome]) -> None:
    source = require_corpus_file(path)
    outcome = outcomes[source.name]
    if source.name in REFUSED:
        assert outcome.error is not None and REFUSED[source.name] in outcome.error, outcome.error
        assert len(outcome.error) <= 300 and source.name in outcome.error
        return
    assert outcome.error is None, outcome.error
    assert outcome.output is not None
    before, after = entries(source.read_bytes()), entries(outcome.output)
    changed = _changed_parts(source.read_bytes(), outcome.sheet_part)
    dropped = {part for part in changed if part.endswith("calcChain.xml")}
    assert set(after) == set(before) - dropped
    for name, data in before.items():
        if name not in changed:
            assert after[name] == data, f"{name} changed"
    workbook = next(
        part for part in changed if part.endswith(("workbook.xml", "workbook2.xml")) or part == _main(before)
    )
    assert _CALC_PR.sub(b"", after[workbook]) == _CALC_PR.sub(b"", before[workbook])
    assert b'fullCalcOnLoad="1"' in after[workbook]
    _assert_untouched_cells_kept(before[outcome.sheet_part], after[outcome.sheet_part], outcome.cell)


def _main(parts: dict[str, bytes]) -> str:
    match = re.search(
        rb'officeDocument"\s+Target="/?([^"]+)"|Target="/?([^"]+)"[^>]*officeDocument"', parts["_rels/.rels"]
    )
    assert match is not None
    return (match.group(1) or match.group(2)).decode()


def _changed_parts(data: bytes, sheet_part: str) -> set[str]:
    """The parts the update may rewrite: the sheet, the workbook and, with a calcChain, its neighbours."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        main = next(t for kind, t in relationships(archive, "").values() if kind.endswith("/officeDocument"))
        rels = relationships(archive, main)
    changed = {sheet_part, main}
    chain = [target for kind, target in rels.values() if kind.endswith("/calcChain")]
    if chain:
        folder, base = posixpath.split(main)
        changed |= {chain[0], posixpath.join(folder, "_rels", f"{base}.rels"), "[Content_Types].xml"}
    return changed


def _assert_untouched_cells_kept(before: bytes, after: bytes, written: tuple[int, int]) -> None:
    """Rows not written are byte-identical; in written rows, every other cell is."""
    old_rows = {row.number - 1: row.data for row in sheet_rows(before)}
    new_rows = {row.number - 1: row.data for row in sheet_rows(after)}
    appended = _appended_row(new_rows)
    assert all(row < appended for row, data in old_rows.items() if _VALUE.search(data))
    assert set(new_rows) - set(old_rows) <= {written[0], appended}
    for row, data in old_rows.items():
        if row not in (written[0], appended):
            assert new_rows[row] == data, f"row {row + 1} changed"
    targets = {written, (appended, 0), (appended, 1)}
    for row in {written[0], appended}:
        old = _cells(old_rows.get(row))
        new = _cells(new_rows[row])
        for col, cell in old.items():
            if (row, col) in targets:
                assert not _VALUE.search(cell), f"cell {(row, col)} held a value and was overwritten"
            else:
                assert new.get(col) == cell, f"cell {(row, col)} changed"
        assert {(row, col) for col in set(new) - set(old)} <= targets
    assert CELL_TEXT.encode() in _cells(new_rows[written[0]])[written[1]]
    assert b">12345.678<" in _cells(new_rows[appended])[1]


def _cells(row: bytes | None) -> dict[int, bytes]:
    return {} if row is None else row_cells(row)


def _appended_row(rows: dict[int, bytes]) -> int:
    return next(index for index, data in rows.items() if ROW_TEXT.encode() in data)


@pytest.mark.parametrize("path", corpus_params("xlsx"))
def test_libreoffice_reads_the_written_values_back(path: Path | None, outcomes: dict[str, Outcome]) -> None:
    source = require_corpus_file(path)
    outcome = outcomes[source.name]
    if source.name in REFUSED:  # nothing was written, so nothing went to LibreOffice
        assert outcome.output is None and outcome.csv_dir is None
        return
    assert outcome.csv_dir is not None, "LibreOffice could not open the updated workbook"
    rows = _csv_rows(outcome.csv_dir, source.stem, outcome.sheet)
    row, col = outcome.cell
    assert rows[row][col] == CELL_TEXT
    assert outcome.output is not None
    appended = _appended_row(
        {row.number - 1: row.data for row in sheet_rows(entries(outcome.output)[outcome.sheet_part])}
    )
    assert rows[appended][:2] == [ROW_TEXT, "12345.678"]
    assert not any(any(line) for line in rows[appended + 1 :])


def _csv_rows(folder: Path, stem: str, sheet: str) -> list[list[str]]:
    path = folder / f"{stem}-{sheet}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return [row + [""] * 16_384 for row in csv.reader(handle)][:]


@pytest.mark.parametrize(("scenario", "name", "updates", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_libreoffice_reads_tables_dates_formulas_and_new_sheets_back(
    scenario: str,
    name: str,
    updates: list[dict[str, Any]],
    expected: list[tuple[str, int, int, str]],
    outcomes: dict[str, Outcome],
) -> None:
    require_corpus_file(CORPUS / "xlsx" / name)
    outcome = outcomes[f"scenario-{scenario}.xlsx"]
    assert outcome.csv_dir is not None, "LibreOffice could not open the updated workbook"
    for sheet, row, col, text in expected:
        shown = _csv_rows(outcome.csv_dir, f"scenario-{scenario}", sheet)[row][col]
        assert re.fullmatch(text, shown), (sheet, row, col, shown)
