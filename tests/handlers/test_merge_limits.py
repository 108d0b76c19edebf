"""Merge's bounds: format widths and everything a merge adds are limited before anything is built."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pptx import Presentation

from handlers.common.errors import HandlerError
from handlers.merge import merge
from tests.handlers.builders import b64, template_deck
from tests.handlers.test_merge import DATA, deck_with_table_cells


def template_with_text(text: str) -> bytes:
    deck = Presentation(io.BytesIO(template_deck()))
    deck.slides[0].shapes.title.text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{client|200000000}}", "a format width or precision above 1000 is refused"),
        ("{{total|.200000000f}}", "a format width or precision above 1000 is refused"),
        ("{{total|200000000%}}", "a format width or precision above 1000 is refused"),
        ("{{due|%200000000d}}", "a format width or precision above 1000 is refused"),
        ("{{client|" + "<" * 150 + "}}", "the format is longer than 100 characters"),
    ],
)
def test_a_huge_format_width_fails_the_merge_before_building_the_text(text: str, message: str) -> None:
    with pytest.raises(HandlerError, match=message):
        merge({"template_base64": b64(template_with_text(text)), "data": DATA})


def test_a_value_repeated_past_the_growth_budget_fails_the_merge() -> None:
    # 3,400 placeholders of a 10 KB value: a 35 KB template (compressed) asking for 34 MB of text.
    value = "x" * 10_000
    template = template_with_text("{{big}}" * 3_400)
    with pytest.raises(HandlerError, match="would add more than 32 MiB of text and table rows"):
        merge({"template_base64": b64(template), "data": {"key_value_pairs": {"big": value}}})


def test_a_format_that_does_not_apply_to_the_value_is_a_clear_error() -> None:
    template = template_with_text("{{client|.2f}}")
    with pytest.raises(HandlerError, match=r"placeholder \{\{client\|.2f\}\}: cannot format 'dict'"):
        merge({"template_base64": b64(template), "data": {"key_value_pairs": {"client": {"a": 1}}}})


def test_table_rows_copied_past_the_growth_budget_fail_the_merge_before_they_are_built() -> None:
    # A template row carrying 40 KB of text, asked for 1,000 times by a 3 KB list of empty records.
    template = deck_with_table_cells({(1, 0): "{{table:items}}", (1, 2): "x" * 40_000})
    records: list[dict[str, Any]] = [{} for _ in range(1_000)]
    with pytest.raises(HandlerError, match=r"would add more than 32 MiB .*\(rows of table shape 'Table 1'\)"):
        merge({"template_base64": b64(template), "data": {"tables": {"items": records}}})
