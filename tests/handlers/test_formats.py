"""Extract reads .xls, .xlsb and .ods through calamine, and says what any other file is (as update does)."""

from __future__ import annotations

import re

import pytest

from handlers.common.errors import MAX_MESSAGE_CHARS, HandlerError, InvalidFile
from handlers.extract import extract
from handlers.update import update
from tests.corpus import CORPUS, require_corpus_file
from tests.handlers.binary_books import compound_file, ods, row, value, xls, xlsb
from tests.handlers.builders import b64, png


def extract_file(name: str, **payload: object) -> dict[str, object]:
    path = require_corpus_file(CORPUS / name)
    result: dict[str, object] = extract({"excel_base64": b64(path.read_bytes()), "file_name": path.name, **payload})
    return result


@pytest.mark.parametrize("name", ["other/tafia__date.xls", "other/tafia__date.xlsb", "xlsx/tafia__date.xlsx"])
def test_xls_xlsb_and_xlsx_give_the_same_values(name: str) -> None:
    data = extract_file(name)["data"]
    assert isinstance(data, dict)
    rows = data["sheets"]["Sheet1"]["tables"][0]
    # Dates, durations and numbers follow the same rules whatever the format.
    assert rows["headers"] == ["2021-01-01", "15"]
    assert rows["rows"][:2] == [{"2021-01-01": "2021-01-02", "15": 16}, {"2021-01-01": "PT255H10M10S", "15": 17}]


def test_a_1904_xls_workbook_gives_its_own_dates() -> None:
    data = extract_file("other/SheetJS__1904_1904.xls")["data"]
    assert isinstance(data, dict)
    table = data["sheets"]["Sheet1"]["tables"][0]
    assert table["headers"][:2] == ["1", "1904-01-02"]


def test_an_ods_workbook_is_extracted_sheet_by_sheet_and_pictures_are_a_warning() -> None:
    rules = {
        "sheets": {
            "First Sheet": {"extraction_rules": [{"type": "cell", "key": "b2", "cell": "B2"}, {"type": "images"}]}
        }
    }
    data = extract_file("other/apache__spreadsheet_SampleSS.ods", config=rules)["data"]
    assert isinstance(data, dict)
    assert data["sheet_names"] == ["First Sheet", "Sheet Number 2", "Sheet3"]
    assert data["sheets"]["First Sheet"]["key_value_pairs"] == {"b2": "2nd row 2nd column"}
    assert data["sheets"]["First Sheet"]["images"] == []
    assert data["warnings"] == ["sheet 'First Sheet': pictures are read from .xlsx/.xlsm workbooks only, not from .ods"]


@pytest.mark.parametrize("name", ["xlsx/tafia__pass_protected.xlsx", "other/tafia__pass_protected.xlsb"])
def test_an_encrypted_workbook_is_refused_as_encrypted(name: str) -> None:
    with pytest.raises(InvalidFile, match=r"is encrypted \(password-protected\); remove the password"):
        extract_file(name)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png(4, 4), "is a PNG picture, not a workbook"),
        (b"%PDF-1.7\n...", "is a PDF document, not a workbook"),
        (b"a;b\n\xc3\xa9;2\n", r"is a text file \(CSV or similar\)"),
    ],
    ids=["png", "pdf", "csv"],
)
def test_a_file_of_another_kind_says_what_it_is(data: bytes, kind: str) -> None:
    with pytest.raises(InvalidFile, match=rf"^in\.xlsx {kind}.*extract takes \.xlsx, \.xlsm, \.xlsb, \.xls or \.ods$"):
        extract({"excel_base64": b64(data), "file_name": "in.xlsx"})


def test_a_damaged_xlsb_is_refused_without_calamines_panic_text() -> None:
    with pytest.raises(InvalidFile, match=r"damaged or not readable as a workbook \(the reader failed") as refused:
        extract_file("other/apache__spreadsheet_Simple.xlsb")
    assert "no entry found" not in str(refused.value)


def test_every_handler_message_is_bounded_and_free_of_python_reprs() -> None:
    error = HandlerError("cannot read <_io.BytesIO object at 0x7f3a2c1d9e40>: " + "x" * 5000 + "\n\x00tail")
    message = str(error)
    assert len(message) <= MAX_MESSAGE_CHARS
    assert "0x7f" not in message and "\n" not in message and "\x00" not in message
    assert message.startswith("cannot read an object: xxx") and message.endswith("...")


# One detection serves extract and update: each names the file's kind the same way and says which
# formats it takes itself.
WORD_WITH_WORKBOOK_TEXT = compound_file({"WordDocument": ("see the Workbook tab" * 300).encode("utf-16-le")})
KINDS = {
    "png": (png(4, 4), "is a PNG picture, not a workbook"),
    "csv": (b"a;b\n1;2\n", r"is a text file \(CSV or similar\), not a workbook"),
    # The bytes "Workbook" in UTF-16 inside a Word document's text are not an .xls stream.
    "word": (WORD_WITH_WORKBOOK_TEXT, "is a Word document"),
    "xlsb": (xlsb([(0, 0, 1.0)]), None),
    "ods": (ods(row(value(1))), None),
    "xls": (xls([(0, 0, 1.0)]), None),
}
UPDATE_SAYS = {
    "xlsb": r"is an Excel binary workbook \(\.xlsb\)",
    "ods": r"is an OpenDocument spreadsheet \(\.ods\)",
    "xls": r"is a legacy binary Excel workbook \(\.xls\)",
}


@pytest.mark.parametrize("case", list(KINDS))
def test_extract_and_update_tell_a_files_kind_alike(case: str) -> None:
    data, kind = KINDS[case]
    extract_payload = {"excel_base64": b64(data), "file_name": "in.xlsx"}
    if kind is None:
        assert extract(extract_payload)["success"] is True
    else:
        with pytest.raises(
            InvalidFile, match=rf"^in\.xlsx {kind}.*; extract takes \.xlsx, \.xlsm, \.xlsb, \.xls or \.ods$"
        ):
            extract(extract_payload)
    with pytest.raises(InvalidFile) as refused:
        update({**extract_payload, "updates": [{"sheet": "Sheet1", "cell": "A1", "value": 1}]})
    message = str(refused.value)
    assert re.match(rf"^in\.xlsx {UPDATE_SAYS.get(case, kind)}", message), message
    assert "update takes Excel workbooks saved as .xlsx or .xlsm" in message and len(message) <= MAX_MESSAGE_CHARS
