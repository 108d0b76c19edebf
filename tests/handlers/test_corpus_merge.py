"""Merge into every real deck of the corpus: a placeholder, a table row and each chart, read back twice.

Once with python-pptx (placeholder, rows, every chart's series), and once by LibreOffice Impress:
every merged deck is converted to PDF in one soffice run and the placeholder's value and the rows are
read back from the PDF's text with pdftotext; the decks with charts are converted to ODP in a second
run, where each chart's data table (as LibreOffice read it) must hold the merged series.
"""

from __future__ import annotations

import base64
import io
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]
from pptx import Presentation

from handlers.merge import merge, validate
from tests.corpus import corpus_files, corpus_params, require_corpus_file
from tests.external_tools import require_program
from tests.handlers.builders import b64
from tests.handlers.corpus_decks import CLIENT, ROWS, Template, main_content_type, make_template, shapes_of
from tests.libreoffice import convert

DECKS = corpus_params("pptx", ".pptx", ".potx", ".pptm")
PRESENTATION = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
MACRO_PRESENTATION = "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"
ODF = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
}
ChartTable = tuple[set[str], set[float]]  # the texts of a chart's data table (as LibreOffice read it), its numbers
FIRST_PAGE = 'impress_pdf_Export:{"PageRange":{"type":"string","value":"1"}}'

# The module fixtures merge every corpus deck and convert the outputs in one LibreOffice run, inside
# the first test's time limit: well past the suite's 30 s on a loaded machine.
pytestmark = pytest.mark.timeout(300)


@dataclass
class Merged:
    """A corpus deck's template, the merge's answer and the merged file written for LibreOffice."""

    template: Template
    answer: dict[str, Any]
    output: Path


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Merged | str]:
    """Every corpus deck merged once (in-process), by file name; a failed merge is its message."""
    out_dir = tmp_path_factory.mktemp("merged-decks")
    results: dict[str, Merged | str] = {}
    for path in corpus_files("pptx", ".pptx", ".potx", ".pptm"):
        template = make_template(path.read_bytes())
        payload = {"template_base64": b64(template.data), "file_name": path.name, "data": template.payload_data()}
        try:
            validate(payload)
            answer = merge(payload)["data"]
        except Exception as error:  # one deck's failure is that deck's test failure, not the module's
            results[path.name] = f"{type(error).__name__}: {error}"
            continue
        output = out_dir / answer["file"]["name"]
        output.write_bytes(base64.b64decode(answer["file"]["base64"]))
        results[path.name] = Merged(template, answer, output)
    return results


def merged_deck(merged: dict[str, Merged | str], path: Path | None) -> Merged:
    """The merge of a parametrised test's corpus deck; the test fails with the message if it failed."""
    item = merged[require_corpus_file(path).name]
    if isinstance(item, str):
        pytest.fail(f"the merge failed: {item}", pytrace=False)
    return item


def successes(merged: dict[str, Merged | str]) -> dict[str, Merged]:
    """The decks that merged."""
    return {name: item for name, item in merged.items() if isinstance(item, Merged)}


@pytest.fixture(scope="module")
def pdf_texts(merged: dict[str, Merged | str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """The text of each merged deck's PDF (one LibreOffice run for all), None where no PDF came out."""
    pdftotext = require_program("pdftotext", "poppler-utils")
    # The placeholder and the new table are on the first visible slide, which is the PDF's first page;
    # rendering only that page keeps the run short (LibreOffice still opens each whole deck).
    pdfs = convert(
        [item.output for item in successes(merged).values()],
        "pdf",
        tmp_path_factory.mktemp("pdf"),
        filter_options=FIRST_PAGE,
    )
    texts: dict[str, str | None] = {}
    for name, item in successes(merged).items():
        pdf = pdfs.get(item.output)
        run = subprocess.run([pdftotext, "-q", str(pdf), "-"], capture_output=True, check=False) if pdf else None
        texts[name] = run.stdout.decode("utf-8", "replace") if run and run.returncode == 0 else None
    return texts


@pytest.fixture(scope="module")
def chart_tables(
    merged: dict[str, Merged | str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[ChartTable]]:
    """The data table of every chart, as LibreOffice reads it (one ODP conversion of the decks with charts)."""
    with_charts = [item.output for item in successes(merged).values() if item.template.charts]
    odps = convert(with_charts, "odp", tmp_path_factory.mktemp("odp"))
    tables: dict[str, list[ChartTable]] = {}
    for name, item in successes(merged).items():
        if item.output in odps:
            with zipfile.ZipFile(odps[item.output]) as odp:
                parts = [
                    part for part in odp.namelist() if part.startswith("Object ") and part.endswith("/content.xml")
                ]
                tables[name] = [_chart_table(odp.read(part)) for part in parts]
    return tables


def _chart_table(content: bytes) -> ChartTable:
    cells = etree.fromstring(content).xpath("//table:table//table:table-cell", namespaces=ODF)
    texts = {str(text) for cell in cells for text in cell.xpath("./text:p/text()", namespaces=ODF)}
    numbers = {float(cell.get(f"{{{ODF['office']}}}value")) for cell in cells if cell.get(f"{{{ODF['office']}}}value")}
    return texts, numbers


@pytest.mark.parametrize("path", DECKS)
def test_a_corpus_deck_gets_its_placeholder_table_rows_and_chart_data(
    path: Path | None, merged: dict[str, Merged | str]
) -> None:
    item = merged_deck(merged, path)
    deck = Presentation(io.BytesIO(item.output.read_bytes()))
    slide = deck.slides[item.template.slide_index]
    assert "Merged " + CLIENT in [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
    ours = next(shape for shape in slide.shapes if shape.has_table and shape.table.cell(0, 0).text == "Name")
    expected = [["Name", "Qty", "Note"]] + [[str(row["Name"]), str(row["Qty"]), str(row["Note"])] for row in ROWS]
    assert [[cell.text for cell in row.cells] for row in ours.table.rows] == expected
    bound = [shape for shape in shapes_of(deck) if shape.has_table and shape.name == "table:rows"]
    if item.template.bound_table_rows is not None:
        assert [len(shape.table.rows) for shape in bound] == [item.template.bound_table_rows - 1 + len(ROWS)]
    charts = {shape.name.removeprefix("chart:"): shape.chart for shape in shapes_of(deck) if shape.has_chart}
    for plan in item.template.charts:
        series = [(series.name, list(series.values)) for series in charts[plan.name].series]
        assert series == plan.series, f"chart {plan.name} ({plan.kind})"
    assert item.answer["unknown_placeholders"] == []
    assert item.answer["tables_filled"] == 1 + (item.template.bound_table_rows is not None)
    assert item.answer["charts_updated"] == len(item.template.charts)


@pytest.mark.parametrize("path", DECKS)
def test_a_merged_corpus_deck_keeps_its_kind(path: Path | None, merged: dict[str, Merged | str]) -> None:
    source = require_corpus_file(path)
    item = merged_deck(merged, path)
    output = item.output.read_bytes()
    if source.suffix == ".pptm":
        assert item.output.suffix == ".pptm"
        assert main_content_type(output) == MACRO_PRESENTATION
        with zipfile.ZipFile(source) as before, zipfile.ZipFile(io.BytesIO(output)) as after:
            macros = [name for name in before.namelist() if name.endswith("vbaProject.bin")]
            assert macros, "a .pptm of the corpus carries a VBA project"
            assert [after.read(name) for name in macros] == [before.read(name) for name in macros]
    else:
        assert item.output.suffix == ".pptx"  # a .potx template gives a presentation
        assert main_content_type(output) == PRESENTATION


@pytest.mark.parametrize("path", DECKS)
def test_libreoffice_opens_a_merged_corpus_deck_and_shows_the_value(
    path: Path | None, merged: dict[str, Merged | str], pdf_texts: dict[str, str | None]
) -> None:
    merged_deck(merged, path)
    text = pdf_texts[require_corpus_file(path).name]
    assert text is not None, "LibreOffice made no PDF of the merged deck"
    words = " ".join(text.split())
    assert "Merged " + CLIENT in words
    assert all(str(row["Name"]) in words and str(row["Note"]) in words for row in ROWS)


@pytest.mark.parametrize("path", DECKS)
def test_libreoffice_reads_the_merged_data_of_every_chart(
    path: Path | None, merged: dict[str, Merged | str], chart_tables: dict[str, list[ChartTable]]
) -> None:
    name = require_corpus_file(path).name
    plans = merged_deck(merged, path).template.charts
    if not plans:
        return  # a deck without charts: nothing to read back here
    tables = chart_tables.get(name)
    assert tables, "LibreOffice made no ODP of the merged deck"
    for plan in plans:
        for series, values in plan.series:
            holding = [numbers for texts, numbers in tables if series in texts]
            assert holding, f"no chart in LibreOffice's reading has the series {series!r}"
            assert set(values) <= holding[0], f"{series}: {values} not in {sorted(holding[0])}"
