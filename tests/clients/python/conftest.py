"""A real `python server.py` with the demo endpoints, shared by the client tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.python.service import serve


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a service shared by the tests of one module."""
    yield from serve(tmp_path_factory.mktemp("service"))
