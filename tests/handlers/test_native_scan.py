"""The C cell scan (handlers/xlsx/_cell_scan.c) gives the bound the Python pre-check's regexes give."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from handlers.xlsx import _records, native
from handlers.xlsx.part_chunks import xml_chunks
from handlers.xlsx.sheet_area import _Bound
from tests.corpus import CORPUS, corpus_files
from tests.external_tools import missing

Scan = tuple[int, int, bool]


def in_python(chunk: bytes, letters: int, digits: int) -> Scan:
    bound = _Bound(letters, digits)
    bound.python_feed(chunk)
    return bound.letters, bound.digits, bound.odd


def assert_same(chunk: bytes, letters: int = 1, digits: int = 1) -> None:
    assert _records.scan_cells(chunk, letters, digits) == in_python(chunk, letters, digits), chunk[:200]


# Pieces of sheet XML, well and badly formed: cell tags placed every way the pre-check tells apart.
PIECES = [
    b"<c",
    b' r="',
    b"A",
    b"bc",
    b"XFD",
    b"1",
    b"1048576",
    b'"',
    b"'",
    b' s="1"',
    b' t="s"',
    b" s='2'",
    b' x:y.z-w_1="a>b"',
    b"/>",
    b">",
    b"<v>1</v>",
    b"</c>",
    b"<x:c",
    b":c>",
    b"<cc",
    b"<col",
    b' r="A1"',
    b" ",
    b"\t",
    b"\n",
    b"=",
    b"/",
    b"<",
    b'<row r="7">',
    b"</row>",
    b"\xc3\xa9",
]


# What a sheet holds besides cells that place themselves: nothing here sends the scan to the replay.
PLAIN = [b"<v>1</v>", b"</c>", b'<row r="7">', b"</row>", b"\n", b'<col min="1"/>', b"<cc>", b"<is><t>x</t></is>"]


def random_cell(rng: random.Random, *, plain: bool) -> bytes:
    """A cell tag; `plain`: with its own reference, first, spelt as step 1 reads it (valued or not)."""
    least = 1 if plain else 0
    letters = "".join(rng.choice("ABCXYZabz") for _ in range(rng.randint(least, 4)))
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(least, 8)))
    attrs = "".join(
        rng.choice([' s="1"', ' t="n"', " s='3'", ' a="/"', ' b="x/>"', ' x:y.z-w_1="1"', ""]) for _ in range(2)
    )
    space = " " if plain else rng.choice([" ", " ", "\t", "\n", "  "])
    close = rng.choice(["/>", "><v>2</v></c>", ">", " />"] + ([] if plain else ["", "/", '"']))
    return f'<c{space}r="{letters}{digits}"{attrs}{close}'.encode()


def random_chunk(rng: random.Random) -> bytes:
    plain = rng.random() < 0.5
    pieces = PLAIN if plain else PIECES
    parts = [
        random_cell(rng, plain=plain) if rng.random() < 0.4 else rng.choice(pieces) for _ in range(rng.randint(0, 40))
    ]
    return b"".join(parts)


def test_the_scan_is_built_into_the_accelerator() -> None:
    assert _records.scan_cells(b'<c r="AB12" s="1"><v>1</v></c><c r="A1"/>', 1, 1) == (2, 2, False)


@pytest.mark.parametrize("seed", range(20))
def test_random_xml_gives_the_same_bound_from_any_start(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        assert_same(random_chunk(rng), rng.randint(1, 4), rng.randint(1, 9))


@pytest.mark.parametrize(
    "chunk",
    [
        b"",
        b"<c",
        b"<c ",
        b'<c r="',
        b'<c r="A',
        b'<c r="A1',
        b'<c r="AB12"',
        b'<c r="AB12">',
        b'<c r="AB12" s="1',
        b'<c r="AB12" s="1>',
        b'<c r="AB12" s="1/>',
        b'<c r="AB12" s=\'1/>',
        b'<c r="AB12"/>',
        b'<c r="AB12" s="1"/>',
        b'<c r="AB12" s="1" />',
        b'<c r="AB12" s=1/>',
        b'<c r="AB12" a="/">',
        b'<c r="AB12" a="x/"/>',
        b'<c r="AAAA99999999" t="s"><v>0</v></c>',
        b'<c r="1A"><v>1</v></c>',
        b'<c r="A"><v>1</v></c>',
        b'<c r=""><v>1</v></c>',
        b"<c r='B2'><v>1</v></c>",
        b'<c s="1" r="B2"><v>1</v></c>',
        b"<c><v>1</v></c>",
        b"<c/>",
        b"<c\tr='B2'>",
        b'<c\nr="B2">',
        b'<x:c r="A1"><x:v>1</x:v></x:c>',
        b'<c r="A1"/><x:c/>',
        b":c ",
        b":c",
        b'<cc r="ZZZ999">',
        b'<col min="1" max="16384"/>',
        b'<c r="ZZ99"><v>1</v></c><c r="B2"><v>2</v></c><c><v>3</v></c><c r="AAA9999999"><v>4</v></c>',
    ],
)
def test_edge_cases_give_the_same_bound(chunk: bytes) -> None:
    for letters, digits in ((1, 1), (2, 2), (3, 7), (4, 9)):
        assert_same(chunk, letters, digits)


def test_every_corpus_sheet_gives_the_same_bounds_chunk_by_chunk() -> None:
    files = [path for path in corpus_files("xlsx") if zipfile.is_zipfile(path)]
    if not files:
        missing(f"the shared corpus at {CORPUS}", "it is laid beside the repository as ../shared/corpus")
    parts = 0
    for path in files:
        archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
        for part in (name for name in archive.namelist() if name.endswith(".xml") and "sheets/" in name):
            for size in (1024, 256 * 1024):  # small chunks carry the bound over many calls
                python, native = (1, 1, False), (1, 1, False)
                try:
                    chunks = list(xml_chunks(archive, part, size))
                except Exception:  # a damaged part is test_corpus_extract's business
                    continue
                for chunk in chunks:
                    if not python[2]:
                        python = in_python(chunk, python[0], python[1])
                    if not native[2]:
                        native = _records.scan_cells(chunk, native[0], native[1])
                    assert native == python, (path.name, part)
            parts += 1
    assert parts >= 100, parts


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        _records.scan_cells("text", 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        _records.scan_cells(b"", -1, 1)
    with pytest.raises(TypeError):
        _records.scan_cells(b"", 1.0, 1)  # type: ignore[arg-type]


def test_without_the_accelerator_the_bound_comes_from_the_python(monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = b'<c r="AB12" s="1"><v>1</v></c><c r="XFD1048576" s="2"/><c r="C333"><v>2</v></c>'
    monkeypatch.setattr(native, "scan_cells", None)
    bound = _Bound()
    bound.feed(chunk)
    assert (bound.letters, bound.digits, bound.odd) == _records.scan_cells(chunk, 1, 1) == (2, 3, False)
