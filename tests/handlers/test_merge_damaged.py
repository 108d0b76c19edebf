"""A template with any one part removed, truncated, emptied or replaced merges, or fails with a short
message of docjobs' own: never a parser's text, an exception repr or an element name."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

from handlers.common.errors import HandlerError
from handlers.merge import merge
from tests.handlers.builders import b64, png, rezip, template_deck

DATA = {
    "key_value_pairs": {"client": "ACME", "total": 1, "due": "2024-07-01"},
    "tables": {"items": [{"Item": "Widget", "Qty": 1}], "sales": [{"Month": "Jan", "Amount": 1}]},
    "images": {"logo": b64(png())},
}
UGLY = re.compile(r"<[a-zA-Z_]|object at 0x|Error\(|\{http|'NoneType'|has no attribute")


def without(data: bytes, name: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
    return out.getvalue()


def damaged_variants() -> Iterator[tuple[str, bytes]]:
    deck = template_deck()
    package = zipfile.ZipFile(io.BytesIO(deck))
    for name in package.namelist():
        yield f"without {name}", without(deck, name)
        if name.endswith((".xml", ".rels")):
            content = package.read(name)
            yield f"truncated {name}", rezip(deck, {name: content[: len(content) // 2]})
            yield f"emptied {name}", rezip(deck, {name: b""})
            yield f"foreign root in {name}", rezip(deck, {name: b'<?xml version="1.0"?><foo/>'})


def test_every_damaged_variant_of_a_template_merges_or_fails_with_a_clear_short_message() -> None:
    unclear = []
    for label, data in damaged_variants():
        try:
            merge({"template_base64": b64(data), "file_name": "deck.pptx", "data": DATA})
        except HandlerError as error:
            if len(str(error)) > 300 or UGLY.search(str(error)):
                unclear.append(f"{label}: {error}")
        except Exception as error:  # what this test exists to catch
            unclear.append(f"{label}: {type(error).__name__}: {error}")
    assert unclear == []
