"""Fixtures: a fake Microsoft login + Graph over HTTPS on 127.0.0.1, and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from handlers.sharepoint import SharePointSettings, reset_process_cache

from .fake_graph import FakeGraph


@pytest.fixture(scope="session")
def graph_ca() -> trustme.CA:
    """One test certificate authority for the whole run (key generation is the slow part)."""
    return trustme.CA()


@pytest.fixture
def fake_graph(graph_ca: trustme.CA, tmp_path: Path) -> Iterator[FakeGraph]:
    """A running fake with an empty drive; `fake_graph.env()` gives its DOCJOBS_SHAREPOINT_* vars."""
    with FakeGraph(graph_ca, tmp_path) as fake:
        yield fake


@pytest.fixture
def sharepoint_settings(fake_graph: FakeGraph) -> SharePointSettings:
    """Settings pointing at the fake: client secret, private addresses allowed, fast retries."""
    return fake_graph.settings()


@pytest.fixture(autouse=True)
def _fresh_process_cache() -> Iterator[None]:
    # Each test signs in afresh and reads the environment afresh.
    reset_process_cache()
    yield
    reset_process_cache()
