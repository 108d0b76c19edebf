"""Merge templates that ask a worker for far more than the request holds fail clearly, through the
live service, and the service completes the next job."""

from __future__ import annotations

import io
import json

import pytest
from pptx import Presentation

from tests.handlers.builders import b64, template_deck
from tests.handlers.live import LiveService

MERGE = "/api/v1/merge"


def titled(text: str) -> bytes:
    deck = Presentation(io.BytesIO(template_deck()))
    deck.slides[0].shapes.title.text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


BOMBS = {
    # One placeholder whose format asks for a 200-million-character string.
    "format width": (
        {"key_value_pairs": {"client": "ACME"}},
        "{{client|200000000}}",
        "Job failed: placeholder {{client|200000000}}: a format width or precision above 1000 is refused",
    ),
    # A 10 KB value repeated by 3,400 placeholders: 34 MB of text from a request of about 50 KB.
    "repeated value": (
        {"key_value_pairs": {"big": "x" * 10_000}},
        "{{big}}" * 3_400,
        "Job failed: the merge would add more than 32 MiB of text and table rows to the deck",
    ),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_a_template_that_would_blow_up_the_worker_fails_the_job_clearly(live: LiveService, case: str) -> None:
    data, title, message = BOMBS[case]
    payload = {"template_base64": b64(titled(title)), "file_name": "deck.pptx", "data": data}
    assert len(json.dumps(payload)) < 64 * 1024  # a small request

    failure = live.failure(MERGE, payload)

    assert failure.startswith(message), failure
    assert len(failure) <= 300
    live.assert_healthy()
