"""The shared corpus of real workbooks and decks (`../shared/corpus`, beside the repository).

Each folder's MANIFEST.tsv names every file with its source and licence. The files are read in place,
never copied into the project. Missing corpus: the tests fail on CI (which has it) and skip locally.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.external_tools import missing

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def corpus_files(folder: str, *suffixes: str) -> list[Path]:
    """The files listed in `folder`'s MANIFEST.tsv (optionally only those with one of `suffixes`)."""
    manifest = CORPUS / folder / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="", encoding="utf-8") as handle:
        # The first line is a `# file<TAB>source...` header; each later row names one file.
        names = [row[0] for row in csv.reader(handle, delimiter="\t") if row and not row[0].startswith("#")]
    return [CORPUS / folder / name for name in names if not suffixes or name.lower().endswith(suffixes)]


def corpus_params(folder: str, *suffixes: str) -> list[object]:
    """`corpus_files` as pytest parameters with the file name as id; one failing parameter if absent."""
    files = corpus_files(folder, *suffixes)
    if not files:
        return [pytest.param(None, id=f"{folder}-missing")]
    return [pytest.param(path, id=path.name) for path in files]


def require_corpus_file(path: Path | None) -> Path:
    """The corpus file of a parametrised test, or a failure on CI / skip locally when it is absent."""
    if path is None or not path.is_file():
        missing(f"the shared corpus at {CORPUS}", "it is laid beside the repository as ../shared/corpus")
    return path
