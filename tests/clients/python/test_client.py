"""DocjobsClient against the real service: results, progress, failures, deadlines, cancels, retries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from docjobs_client import (
    ConnectionFailed,
    DeadlineExceeded,
    DocjobsClient,
    DocjobsClientError,
    InvalidServiceUrl,
    JobFailed,
    JobNotFound,
    JobNotReady,
    JobSnapshot,
    JobState,
    PollPolicy,
    RequestRejected,
)
from tests.clients.python.proxy import start_proxy
from tests.process import free_port

SLEEP = "/api/v1/demo/sleep"


@pytest.fixture
async def client(service_url: str) -> AsyncIterator[DocjobsClient]:
    async with DocjobsClient(service_url) as client:
        yield client


async def test_run_returns_the_handler_result(client: DocjobsClient) -> None:
    result = await client.run("/api/v1/demo/echo", {"hello": "world"}, deadline=20)
    assert result == {"success": True, "message": "Echoed the payload", "data": {"hello": "world"}}


async def test_progress_is_reported_on_each_change_and_never_goes_back(client: DocjobsClient) -> None:
    seen: list[JobSnapshot] = []

    async def on_progress(status: JobSnapshot) -> None:
        seen.append(status)

    result = await client.run(SLEEP, {"seconds": 0.8, "steps": 4}, on_progress=on_progress, deadline=20)
    assert result["message"] == "Slept 0.8 s"
    progress = [s.progress for s in seen]
    assert len(seen) >= 3, progress
    assert progress == sorted(progress)
    assert seen[-1].state is JobState.COMPLETED
    assert progress[-1] == 100
    assert any(s.state is JobState.RUNNING and 0 < s.progress < 100 for s in seen)


async def test_long_polls_take_one_request_per_change(service_url: str) -> None:
    async with start_proxy(service_url) as proxy, DocjobsClient(proxy.url) as client:
        changes: list[int] = []
        await client.run(SLEEP, {"seconds": 0.9, "steps": 3}, on_progress=lambda s: changes.append(s.progress))
    polls = [path for path in proxy.seen if "/status" in path]
    assert any("wait=" in path for path in polls)
    assert len(polls) <= len(changes) + 1, (polls, changes)


async def test_plain_polling_reaches_the_result(client: DocjobsClient) -> None:
    seen: list[int] = []
    policy = PollPolicy(long_poll=False, interval=0.1)
    result = await client.run(
        SLEEP, {"seconds": 0.5, "steps": 2}, on_progress=lambda s: seen.append(s.progress), policy=policy
    )
    assert result["success"] is True
    assert seen == sorted(seen)
    assert seen[-1] == 100


async def test_a_failed_job_raises_job_failed_with_the_service_message(client: DocjobsClient) -> None:
    with pytest.raises(JobFailed) as failed:
        await client.run("/api/v1/demo/fail", {"message": "sheet is gone"}, deadline=20)
    assert failed.value.code == "job_failed"
    assert failed.value.status == 422
    assert "sheet is gone" in failed.value.message
    assert failed.value.job_id and failed.value.job_id.startswith("job_")


async def test_the_deadline_raises_with_the_job_id_and_the_job_can_be_followed_again(client: DocjobsClient) -> None:
    began = time.monotonic()
    with pytest.raises(DeadlineExceeded) as late:
        await client.run(SLEEP, {"seconds": 1.5, "steps": 3}, deadline=0.5)
    assert time.monotonic() - began < 1.4
    job_id = late.value.job_id
    assert job_id is not None
    assert late.value.code == "deadline_exceeded"
    final = await client.wait(job_id, deadline=20)
    assert final.state is JobState.COMPLETED
    assert (await client.result(job_id))["message"] == "Slept 1.5 s"


async def test_cancel_stops_and_forgets_the_job(client: DocjobsClient) -> None:
    started = await client.start(SLEEP, {"seconds": 20})
    assert started.retry_after is not None and started.retry_after >= 1
    with pytest.raises(JobNotReady):
        await client.result(started.job_id)
    answer = await client.cancel(started.job_id)
    assert answer["success"] is True
    with pytest.raises(JobNotFound) as gone:
        await client.status(started.job_id)
    assert gone.value.status == 404


async def test_requests_the_service_refuses_are_request_rejected(client: DocjobsClient) -> None:
    with pytest.raises(RequestRejected) as bad:
        await client.start(SLEEP, {"seconds": -1})
    assert (bad.value.code, bad.value.status) == ("invalid_payload", 400)
    with pytest.raises(RequestRejected) as unknown:
        await client.run("/api/v1/nope", {})
    assert unknown.value.code == "endpoint_not_allowed"
    with pytest.raises(RequestRejected) as malformed:
        await client.status("../stats")
    assert malformed.value.code == "invalid_job_id"


async def test_a_dropped_result_answer_is_fetched_again_with_the_api_key(service_url: str) -> None:
    async with (
        start_proxy(service_url, drop_first="/result") as proxy,
        DocjobsClient(proxy.url, api_key="secret-key") as client,
    ):
        result = await client.run("/api/v1/demo/echo", {"n": 1}, deadline=20)
    assert result["data"] == {"n": 1}
    assert len([p for p in proxy.seen if p.endswith("/result")]) == 2
    assert proxy.authorizations == {"Bearer secret-key"}


async def test_a_503_on_a_status_request_is_retried_after_its_retry_after(service_url: str) -> None:
    async with start_proxy(service_url, unavailable_first="/status") as proxy, DocjobsClient(proxy.url) as client:
        started = await client.start("/api/v1/demo/echo", {})
        began = time.monotonic()
        status = await client.status(started.job_id)
    assert status.job_id == started.job_id
    assert time.monotonic() - began >= 0.9, "Retry-After: 1 was honoured"
    assert len([p for p in proxy.seen if p.endswith("/status")]) == 2


async def test_an_unreachable_service_is_connection_failed() -> None:
    async with DocjobsClient(f"http://127.0.0.1:{free_port()}", attempts=2) as client:
        with pytest.raises(ConnectionFailed) as failed:
            await client.run("/api/v1/demo/echo", {})
    assert failed.value.code == "network_error"


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("localhost:8080", "did you mean 'http://localhost:8080'?"),
        ("127.0.0.1:8080", "did you mean 'http://127.0.0.1:8080'?"),
        ("ftp://127.0.0.1:8080", ""),
        ("http://127.0.0.1:port", ""),
        ("http://", ""),
    ],
)
async def test_a_url_without_http_and_a_host_is_refused_before_any_request(url: str, hint: str) -> None:
    with pytest.raises(InvalidServiceUrl) as refused:
        DocjobsClient(url)
    assert isinstance(refused.value, DocjobsClientError) and isinstance(refused.value, ValueError)
    assert refused.value.code == "invalid_url"
    assert refused.value.message.startswith(f"the service URL {url!r} is not http:// or https://")
    assert refused.value.message.endswith(hint)
    assert "aiohttp" not in refused.value.message and len(refused.value.message) <= 300
