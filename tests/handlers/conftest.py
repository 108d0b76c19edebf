"""Fixtures of the end-to-end tests: one fake Graph and one live server per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.handlers.live import MIB, LiveService, live_service
from tests.sharepoint.fake_graph import FakeGraph, running_fake_graph

# Small caps, so that the oversized download and the zip bomb stay small files.
MAX_DOWNLOAD_BYTES = 2 * MIB
MAX_UNCOMPRESSED_MB = 10


@pytest.fixture(scope="module")
def live_graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGraph]:
    """A fake Microsoft login + Graph on 127.0.0.1, shared by a module's tests."""
    with running_fake_graph(tmp_path_factory.mktemp("graph")) as fake:
        yield fake


@pytest.fixture(scope="module")
def live(live_graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """`python server.py` with one worker, signed in to the fake Graph, with small size caps."""
    env = {
        **live_graph.env(MAX_DOWNLOAD_BYTES=str(MAX_DOWNLOAD_BYTES)),
        "DOCJOBS_MAX_UNCOMPRESSED_MB": str(MAX_UNCOMPRESSED_MB),
    }
    with live_service(tmp_path_factory.mktemp("server"), env) as service:
        yield service


@pytest.fixture(autouse=True)
def _graph_delay_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    # A test that slows the shared fake down must not slow the next one.
    yield
    if "live_graph" in request.fixturenames:
        request.getfixturevalue("live_graph").graph_delay_seconds = 0.0
