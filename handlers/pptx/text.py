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
from itertools import accumulate, pairwise
from typing import Any

from pptx.shapes.group import GroupShape
from pptx.text.text import TextFrame

from handlers.common.errors import HandlerError
from handlers.pptx.budget import MAX_FORMAT_NUMBER, MAX_FORMAT_SPEC_CHARS, GrowthBudget

PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]+?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")
TABLE_MARKER = re.compile(r"\{\{\s*table:\s*([^{}]+?)\s*\}\}")
MARKER_PREFIXES = ("image:", "table:", "chart:")
_DIGITS = re.compile(r"\d+")
_CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"

# name, format spec -> replacement text, or None when the name is unknown
Resolver = Callable[[str, str | None], str | None]


class Values:
    """Placeholder values: exact names first, then a case-insensitive match; texts are charged to a budget."""

    def __init__(self, values: Mapping[str, Any], budget: GrowthBudget, fallback: Values | None = None) -> None:
        self._values = dict(values)
        self._folded = {str(key).casefold(): value for key, value in reversed(self._values.items())}
        self._budget = budget
        self._fallback = fallback

    @property
    def budget(self) -> GrowthBudget:
        """What the merge may still add; every text resolved here is charged to it."""
        return self._budget

    def resolve(self, name: str, spec: str | None) -> str | None:
        """The text for `{{name|spec}}`, or None when no value has that name."""
        if name in self._values:
            text = format_value(self._values[name], spec, name)
        elif name.casefold() in self._folded:
            text = format_value(self._folded[name.casefold()], spec, name)
        else:
            return self._fallback.resolve(name, spec) if self._fallback else None
        self._budget.take(len(text.encode("utf-8")), f"placeholder {{{{{name}}}}}")
        return text


def format_value(value: Any, spec: str | None, name: str) -> str:
    """A value as text; `spec` is a Python format spec (`,.2f`) or, for ISO dates, strftime (`%d %b %Y`)."""
    if value is not None and spec:
        _check_spec(spec, name)
        try:
            if "%" in spec and isinstance(value, str):
                return _parse_iso(value).strftime(spec)
            return format(value, spec)
        except (ValueError, TypeError) as error:
            shown = value if isinstance(value, int | float | str) and len(str(value)) <= 40 else type(value).__name__
            raise HandlerError(f"placeholder {{{{{name}|{spec}}}}}: cannot format {shown!r} ({error})") from None
    return _plain_text(value)


def _check_spec(spec: str, name: str) -> None:
    # Checked before formatting: `{{x|200000000}}` would otherwise build a 200 MB string.
    if len(spec) > MAX_FORMAT_SPEC_CHARS:
        raise HandlerError(
            f"placeholder {{{{{name}|...}}}}: the format is longer than {MAX_FORMAT_SPEC_CHARS} characters"
        )
    # Any number: a width or precision in a Python spec (`>200000000`, `.9999%`), a glibc padding
    # width in a strftime one (`%200000000Y`).
    if any(int(digits) > MAX_FORMAT_NUMBER for digits in _DIGITS.findall(spec)):
        raise HandlerError(
            f"placeholder {{{{{name}|{spec}}}}}: a format width or precision above {MAX_FORMAT_NUMBER} is refused"
        )


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

    def substitute(match: re.Match[str]) -> str | None:
        name = match[1]
        if name.startswith(MARKER_PREFIXES):
            return None  # markers, handled by the shape fillers
        text = resolve(name, match[2])
        if text is None:
            unknown.add(name)
        return text

    return substitute_in_paragraph(paragraph, PLACEHOLDER, substitute)


def substitute_in_paragraph(
    paragraph: Any, pattern: re.Pattern[str], text_for: Callable[[re.Match[str]], str | None]
) -> int:
    """Replace each match of `pattern` in a paragraph's text (across runs) by `text_for(match)`, unless None."""
    runs = list(paragraph.runs)
    texts = [run.text for run in runs]
    joined = "".join(texts)
    if "{{" not in joined:
        return 0
    found = ((match, text_for(match)) for match in pattern.finditer(joined))
    edits = [(match.start(), match.end(), text) for match, text in found if text is not None]
    if not edits:
        return 0
    starts = [0, *accumulate(len(text) for text in texts)]
    for run, old, new in zip(runs, texts, _edited_runs(joined, starts, edits), strict=True):
        if old != new:
            run.text = new
    return len(edits)


def _edited_runs(joined: str, starts: list[int], edits: list[tuple[int, int, str]]) -> list[str]:
    # One pass over the runs, each built from pieces: linear however many placeholders a run holds.
    # A replacement goes into the run where its placeholder starts; the rest it covered is dropped.
    result: list[str] = []
    pending = 0
    for low, high in pairwise(starts):
        pieces: list[str] = []
        position = low
        while pending < len(edits) and edits[pending][0] < high:
            begin, end, replacement = edits[pending]
            if begin >= low:
                pieces += [joined[position:begin], replacement]
            position = max(position, min(end, high))
            if end > high:
                break  # the placeholder goes on into the next run
            pending += 1
        pieces.append(joined[position:high])
        result.append("".join(pieces))
    return result


def text_frames(shapes: Any) -> Iterator[Any]:
    """Every text frame in a shape tree: text boxes, placeholders, table cells, grouped shapes, chart titles."""
    for shape in shapes:
        if isinstance(shape, GroupShape):  # not shape_type: it raises on shapes without geometry
            yield from text_frames(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                for cell in row.cells:
                    yield cell.text_frame
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            yield from chart_text_frames(shape)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame


def chart_text_frames(shape: Any) -> Iterator[Any]:
    """The typed texts of a chart: its title, axis titles, display-unit and data labels with own text."""
    try:
        chart_space = shape.chart._chartSpace
    except KeyError:
        return  # the chart part is missing from the package: there is no text to fill
    for rich in chart_space.iter(f"{_CHART}rich"):
        if rich.getparent().tag == f"{_CHART}tx":  # text of its own (txPr holds only formatting)
            yield TextFrame(rich, shape)


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
