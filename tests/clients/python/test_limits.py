"""A client at its job limit (per_client_limit = 1): 429 is waited out within the deadline, else raised."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from docjobs_client import DocjobsClient, TooManyJobs
from tests.clients.python.service import serve


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("limited"), limit=1)


async def test_a_429_whose_retry_after_ends_past_the_deadline_is_raised_at_once(service_url: str) -> None:
    async with DocjobsClient(service_url) as client:
        busy = await client.start("/api/v1/demo/sleep", {"seconds": 20})
        try:
            began = time.monotonic()
            with pytest.raises(TooManyJobs) as limited:
                await client.run("/api/v1/demo/echo", {}, deadline=2)
            assert time.monotonic() - began < 1
        finally:
            await client.cancel(busy.job_id)
    assert (limited.value.code, limited.value.status) == ("too_many_jobs", 429)
    assert limited.value.retry_after and limited.value.retry_after > 0


async def test_a_429_is_retried_after_retry_after_when_the_deadline_allows(service_url: str) -> None:
    async with DocjobsClient(service_url) as client:
        busy = await client.start("/api/v1/demo/sleep", {"seconds": 1, "steps": 1})
        began = time.monotonic()
        result = await client.run("/api/v1/demo/echo", {"after": busy.job_id}, deadline=15)
    assert result["data"] == {"after": busy.job_id}
    # The service answers a client at its limit with Retry-After: 5.
    assert time.monotonic() - began >= 4.5
