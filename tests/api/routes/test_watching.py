"""Long polls (`status?wait=`) and server-sent events: prompt, complete, and bounded per client."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp.test_utils import TestClient

from jobs.api.keys import SERVICE
from tests.conftest import ServiceFactory, body, start_job, status_of, wait_for

Client = TestClient[Any, Any]


async def test_long_poll_returns_as_soon_as_the_job_changes(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 0.6, "steps": 1})
    before = await wait_for(service, job_id, lambda s: s["message"].startswith("pid "))
    began = time.monotonic()
    response = await service.get(f"/api/v1/jobs/{job_id}/status?wait=10")
    after = await body(response)
    elapsed = time.monotonic() - began
    assert response.status == 200
    assert before["progress"] == 0
    assert after["progress"] > 0
    assert elapsed < 3, "the long poll must answer when the job changes, not when the wait ends"


async def test_long_poll_on_an_unchanging_job_answers_when_the_wait_ends(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 10, "steps": 1})
    await asyncio.sleep(0.2)
    began = time.monotonic()
    status = await body(await service.get(f"/api/v1/jobs/{job_id}/status?wait=0.5"))
    assert status["status"] == "running"
    assert 0.4 <= time.monotonic() - began < 3


async def test_long_poll_on_a_finished_job_answers_at_once(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/echo", {})
    while (await status_of(service, job_id))["status"] != "completed":
        await asyncio.sleep(0.02)
    began = time.monotonic()
    await service.get(f"/api/v1/jobs/{job_id}/status?wait=30")
    assert time.monotonic() - began < 1


async def test_wait_must_be_positive_and_at_most_thirty_seconds(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/echo", {})
    for bad in ("0", "31", "abc", "-1"):
        response = await service.get(f"/api/v1/jobs/{job_id}/status?wait={bad}")
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"


async def test_event_stream_sends_every_change_until_the_job_ends(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 0.8, "steps": 4})
    response = await service.get(f"/api/v1/jobs/{job_id}/events")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = []
    async for line in response.content:
        text = line.decode().strip()
        if text.startswith("data: "):
            events.append(json.loads(text[6:]))
    statuses = [e["status"] for e in events]
    progress = [e["progress"] for e in events]
    assert statuses[-1] == "completed"
    assert "running" in statuses
    assert progress == sorted(progress)
    assert len({e["message"] for e in events if e["status"] == "running"}) >= 3, events


async def test_event_stream_reports_a_deleted_job(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 10, "steps": 1})
    response = await service.get(f"/api/v1/jobs/{job_id}/events")
    await response.content.readline()
    await service.delete(f"/api/v1/jobs/{job_id}")
    rest = (await asyncio.wait_for(response.content.read(), 5)).decode()
    assert "event: deleted" in rest


async def test_event_stream_of_an_unknown_job_is_a_json_404(service: Client) -> None:
    response = await service.get("/api/v1/jobs/job_1690123456789_0123456789abcdef0123456789abcdef/events")
    assert response.status == 404
    assert (await response.json())["error"] == "job_not_found"


async def test_a_client_may_hold_only_a_few_long_polls_at_once(start_service: ServiceFactory) -> None:
    client = await start_service(jobs={"max_watches_per_client": 2})
    job_id = await start_job(client, "/api/v1/demo/sleep", {"seconds": 10, "steps": 1})
    await wait_for(client, job_id, lambda s: s["message"].startswith("pid "))
    held = [asyncio.create_task(client.get(f"/api/v1/jobs/{job_id}/status?wait=5")) for _ in range(2)]
    watches = client.server.app[SERVICE].watches
    while watches.in_use < 2:
        await asyncio.sleep(0.01)
    third = await client.get(f"/api/v1/jobs/{job_id}/status?wait=2")
    assert third.status == 429
    assert (await third.json())["error"] == "too_many_watches"
    for task in held:
        assert (await task).status == 200
    assert (await client.get(f"/api/v1/jobs/{job_id}/status?wait=0.1")).status == 200


async def test_a_long_poll_with_a_stale_since_answers_at_once(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 10, "steps": 1})
    current = await wait_for(service, job_id, lambda s: s["message"].startswith("pid "))
    began = time.monotonic()
    stale = "2000-01-01T00:00:00.000Z"
    answer = await body(await service.get(f"/api/v1/jobs/{job_id}/status?wait=5&since={stale}"))
    assert time.monotonic() - began < 1, "the job changed after the caller's last answer"
    assert answer["updated_at"] == current["updated_at"]
    began = time.monotonic()
    await service.get(f"/api/v1/jobs/{job_id}/status?wait=0.5&since={current['updated_at']}")
    assert time.monotonic() - began >= 0.4, "an up-to-date caller waits for the next change"
