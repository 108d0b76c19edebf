"""`{{name}}` placeholders in PowerPoint text, replaced without losing the formatting of the runs.

PowerPoint often splits what the author typed as `{{client}}` over several runs (spell checking,
an edit in the middle). A paragraph's runs are therefore read as one string, and each placeholder's
replacement goes into the run where it starts; the characters it covered in later runs are removed.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator, Mapping
from itertools import accumulate
from typing import Any

from pptx.enum.shapes import MSO_SHAPE_TYPE

from handlers.common.errors import HandlerError

PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]+?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")

# name, format spec -> replacement text, or None when the name is unknown
Resolver = Callable[[str, str | None], str | None]


class Values:
    """Placeholder values: exact names first, then a case-insensitive match."""

    def __init__(self, values: Mapping[str, Any], fallback: Values | None = None) -> None:
        self._values = dict(values)
        self._folded = {str(key).casefold(): value for key, value in reversed(self._values.items())}
        self._fallback = fallback

    def resolve(self, name: str, spec: str | None) -> str | None:
        """The text for `{{name|spec}}`, or None when no value has that name."""
        if name in self._values:
            return format_value(self._values[name], spec, name)
        if name.casefold() in self._folded:
            return format_value(self._folded[name.casefold()], spec, name)
        return self._fallback.resolve(name, spec) if self._fallback else None


def format_value(value: Any, spec: str | None, name: str) -> str:
    """A value as text; `spec` is a Python format spec (`,.2f`) or, for ISO dates, strftime (`%d %b %Y`)."""
    if value is not None and spec:
        try:
            if "%" in spec and isinstance(value, str):
                return _parse_iso(value).strftime(spec)
            return format(value, spec)
        except ValueError as error:
            raise HandlerError(f"placeholder {{{{{name}|{spec}}}}}: cannot format {value!r} ({error})") from None
    return _plain_text(value)


def _plain_text(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "TRUE" if value else "FALSE"  # as Excel shows them
    elif isinstance(value, float):
        text = f"{value:.12g}"  # no binary noise such as 0.30000000000000004
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return text


def replace_in_paragraph(paragraph: Any, resolve: Resolver, unknown: set[str]) -> int:
    """Replace every known placeholder of a paragraph; unknown names are added to `unknown`."""
    runs = list(paragraph.runs)
    texts = [run.text for run in runs]
    joined = "".join(texts)
    if "{{" not in joined:
        return 0
    starts = [0, *accumulate(len(text) for text in texts)]
    replaced = 0
    # Right to left: an edit never moves the text of a placeholder still to be replaced.
    for match in reversed(list(PLACEHOLDER.finditer(joined))):
        name = match[1]
        if name.startswith(("image:", "table:", "chart:")):
            continue  # markers, handled by the shape fillers
        text = resolve(name, match[2])
        if text is None:
            unknown.add(name)
            continue
        _splice(texts, starts, match.start(), match.end(), text)
        replaced += 1
    for run, text in zip(runs, texts, strict=True):
        if run.text != text:
            run.text = text
    return replaced


def _splice(texts: list[str], starts: list[int], begin: int, end: int, replacement: str) -> None:
    for index, text in enumerate(texts):
        low, high = starts[index], starts[index] + len(text)
        if high <= begin or low >= end:
            continue
        keep_before = text[: max(begin - low, 0)]
        keep_after = text[max(end - low, 0) :] if end < high else ""
        inserted = replacement if low <= begin < high else ""
        texts[index] = keep_before + inserted + keep_after


def text_frames(shapes: Any) -> Iterator[Any]:
    """Every text frame in a shape tree: text boxes, placeholders, table cells, grouped shapes."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from text_frames(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                for cell in row.cells:
                    yield cell.text_frame
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame


def replace_in_shapes(shapes: Any, resolve: Resolver, unknown: set[str]) -> int:
    """Replace placeholders in every paragraph of a shape tree; returns how many were replaced."""
    return sum(
        replace_in_paragraph(paragraph, resolve, unknown)
        for frame in text_frames(shapes)
        for paragraph in frame.paragraphs
    )


def _parse_iso(text: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return datetime.datetime.combine(datetime.date.min, datetime.time.fromisoformat(text))
