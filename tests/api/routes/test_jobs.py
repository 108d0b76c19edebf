"""The jobs API over real HTTP: every route and every status transition."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from jobs.api.keys import SERVICE
from tests.conftest import ServiceFactory, body, start_job, status_of, wait_finished, wait_for
from tests.waiting import wait_until_async

Client = TestClient[Any, Any]
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


async def test_start_answers_at_once_with_the_designs_fields(service: Client) -> None:
    response = await service.post(
        "/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/sleep", "payload": {"seconds": 0.2}}
    )
    data = await body(response)
    assert response.status == 202
    assert data["success"] is True
    assert data["status"] == "started"
    assert data["endpoint"] == "/api/v1/demo/sleep"
    assert re.fullmatch(r"job_\d{13}_[0-9a-f]{32}", data["jobId"])
    assert data["estimatedTime"].endswith(("seconds", "second", "minutes"))
    assert data["statusUrl"] == f"/api/v1/jobs/{data['jobId']}/status"
    assert data["resultUrl"] == f"/api/v1/jobs/{data['jobId']}/result"
    assert response.headers["Location"] == data["statusUrl"]
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_seeds_polling_loop_gets_the_result(service: Client) -> None:
    """Start, poll every interval until not pending/running, fetch the result: the design's client."""
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 1, "steps": 3})
    seen = []

    async def polled_to_the_end() -> dict[str, Any] | None:
        status = await status_of(service, job_id)
        seen.append(status["status"])
        return status if status["status"] not in ("running", "pending") else None

    # A client polling every 50 ms, as the design's does; the job runs 1 s, so "running" is seen.
    status = await wait_until_async(
        polled_to_the_end, 20, lambda: f"job {job_id} to finish; seen {seen}", interval=0.05
    )
    assert status["status"] == "completed"
    assert status["progress"] == 100
    assert status["message"] == "Job completed successfully"
    assert ISO.fullmatch(status["created_at"]) and ISO.fullmatch(status["updated_at"])
    assert "running" in seen
    response = await service.get(f"/api/v1/jobs/{job_id}/result")
    result = await body(response)
    assert response.status == 200
    assert result["success"] is True and result["status"] == "completed" and result["jobId"] == job_id
    assert result["data"]["success"] is True
    assert result["data"]["message"] == "Slept 1 s"
    assert ISO.fullmatch(result["retrieved_at"])


async def test_progress_that_overtakes_the_started_message_still_reaches_progress_listeners(
    service: Client, monkeypatch: Any
) -> None:
    """Progress travels on its own queue and may arrive before the worker's "started" message; the
    buffered report must still be announced once the job is running (CI caught it being swallowed)."""
    runner = service.app[SERVICE].runner
    seen: list[tuple[int, str]] = []
    runner.on_progress.append(lambda job: seen.append((job.progress, job.message)))
    loop = asyncio.get_running_loop()
    announce_start = runner.task_started
    monkeypatch.setattr(runner, "task_started", lambda task: loop.call_later(0.15, announce_start, task))
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 0.8, "steps": 2})
    await wait_finished(service, job_id)
    assert seen[0][0] == 0 and seen[0][1].endswith("starting"), seen
    assert seen[1:] == [(50, "step 1 of 2"), (99, "step 2 of 2")][: len(seen) - 1]


async def test_status_while_running_shows_progress_and_processing_message(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 2, "steps": 4})
    status = await wait_for(service, job_id, lambda s: s["progress"] >= 25)
    assert status["status"] == "running"
    assert 25 <= status["progress"] < 100
    assert status["message"].startswith("step ")


async def test_progress_reported_by_a_handler_arrives_in_order(service: Client) -> None:
    seen: list[tuple[int, str]] = []
    service.app[SERVICE].runner.on_progress.append(lambda job: seen.append((job.progress, job.message)))
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 0.5, "steps": 5})
    polled = []

    async def finished() -> dict[str, Any] | None:
        status = await status_of(service, job_id)
        polled.append(status["progress"])
        return status if status["status"] not in ("pending", "running") else None

    status = await wait_until_async(finished, 20, f"job {job_id} to finish", interval=0.01)
    reported = [(0, "pid ")] + [(min(20 * i, 99), f"step {i} of 5") for i in range(1, 6)]
    # Every report arrives, in order, except that reports which overtake the worker's "started"
    # message are coalesced into the latest one (a loaded CI machine can delay that message past
    # the first step), and the last report races the handler's return.
    positions = [next(i for i, (p, m) in enumerate(reported) if p == got and msg.startswith(m)) for got, msg in seen]
    assert positions == sorted(set(positions)), seen
    assert positions == list(range(positions[0], positions[0] + len(positions))), f"a report went missing: {seen}"
    assert len(seen) >= 4, seen
    assert polled == sorted(polled), "progress went backwards"
    assert status["progress"] == 100


async def test_result_before_completion_is_a_clear_not_ready_answer(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 2})
    response = await service.get(f"/api/v1/jobs/{job_id}/result")
    data = await body(response)
    assert response.status == 409
    assert data["success"] is False
    assert data["error"] == "job_not_ready"
    assert data["message"] == "Job still processing"
    assert data["status"] in ("pending", "running")
    assert data["jobId"] == job_id
    assert f"/api/v1/jobs/{job_id}/status" in data["hint"]


async def test_result_is_deleted_after_delivery_but_a_retry_within_grace_gets_it_again(
    start_service: ServiceFactory,
) -> None:
    client = await start_service(jobs={"result_grace_seconds": 0.5})
    job_id = await start_job(client, "/api/v1/demo/echo", {"hello": "world"})
    await wait_finished(client, job_id)
    first = await (await client.get(f"/api/v1/jobs/{job_id}/result")).json()
    again = await client.get(f"/api/v1/jobs/{job_id}/result")
    assert again.status == 200
    assert await again.json() == first
    assert first["data"]["data"] == {"hello": "world"}
    listed = await (await client.get("/api/v1/jobs")).json()
    assert job_id not in [j["id"] for j in listed["jobs"]], "a delivered job is no longer listed"

    async def result_gone() -> ClientResponse | None:
        answer = await client.get(f"/api/v1/jobs/{job_id}/result")
        return answer if answer.status == 404 else None

    gone = await wait_until_async(result_gone, 10, "the delivered result to go once the 0.5 s grace is over")
    assert (await gone.json())["error"] == "job_not_found"
    assert (await client.get(f"/api/v1/jobs/{job_id}/status")).status == 404


async def test_failed_job_says_why_in_status_and_result(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/fail", {"message": "Excel file not found"})
    status = await wait_finished(service, job_id)
    assert status["status"] == "failed"
    assert status["message"] == "Job failed: Excel file not found"
    response = await service.get(f"/api/v1/jobs/{job_id}/result")
    data = await body(response)
    assert response.status == 422
    assert data == {
        "success": False,
        "error": "job_failed",
        "message": "Job failed: Excel file not found",
        "jobId": job_id,
        "status": "failed",
    }


async def test_list_jobs_and_filter_by_status(service: Client) -> None:
    done = await start_job(service, "/api/v1/demo/echo", {})
    await wait_finished(service, done)
    running = await start_job(service, "/api/v1/demo/sleep", {"seconds": 5})
    await wait_for(service, running, lambda s: s["status"] == "running")
    everything = await body(await service.get("/api/v1/jobs"))
    assert everything["success"] is True
    assert everything["total_jobs"] == 2
    assert {j["id"]: j["status"] for j in everything["jobs"]} == {done: "completed", running: "running"}
    entry = next(j for j in everything["jobs"] if j["id"] == done)
    assert set(entry) >= {"id", "endpoint", "status", "progress", "created_at", "updated_at"}
    only_running = await body(await service.get("/api/v1/jobs?status=running"))
    assert [j["id"] for j in only_running["jobs"]] == [running]
    bad = await service.get("/api/v1/jobs?status=bogus")
    assert bad.status == 400
    assert (await bad.json())["error"] == "invalid_request"


async def test_the_job_list_pages_through_a_cursor(service: Client) -> None:
    started = [await start_job(service, "/api/v1/demo/echo", {}) for _ in range(5)]
    seen: list[str] = []
    url = "/api/v1/jobs?limit=2"
    while True:
        page = await body(await service.get(url))
        assert page["total_jobs"] == 5 and len(page["jobs"]) <= 2
        seen.extend(j["id"] for j in page["jobs"])
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/jobs?limit=2&cursor={page['next_cursor']}"
    assert seen == started
    assert (await body(await service.get("/api/v1/jobs")))["next_cursor"] is None  # one page by default
    for query in ("limit=0", "limit=501", "limit=x", "cursor=-1", "cursor=abc"):
        bad = await service.get(f"/api/v1/jobs?{query}")
        assert bad.status == 400, query
        assert (await bad.json())["error"] == "invalid_request"


async def test_delete_a_finished_job(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/echo", {})
    await wait_finished(service, job_id)
    response = await service.delete(f"/api/v1/jobs/{job_id}")
    data = await body(response)
    assert response.status == 200
    assert data["success"] is True
    assert data["message"] == f"Job '{job_id}' deleted successfully"
    assert (await service.get(f"/api/v1/jobs/{job_id}/status")).status == 404
    assert (await service.delete(f"/api/v1/jobs/{job_id}")).status == 404


async def test_stats_count_by_status_and_endpoint(service: Client) -> None:
    ok = await start_job(service, "/api/v1/demo/echo", {})
    bad = await start_job(service, "/api/v1/demo/fail", {})
    await wait_finished(service, ok)
    await wait_finished(service, bad)
    data = await body(await service.get("/api/v1/jobs/stats"))
    stats = data["stats"]
    assert data["success"] is True
    assert stats["total_jobs"] == 2
    assert stats["by_status"]["completed"] == 1 and stats["by_status"]["failed"] == 1
    assert stats["by_status"]["running"] == 0 and stats["by_status"]["pending"] == 0
    assert stats["by_endpoint"] == {"/api/v1/demo/echo": 1, "/api/v1/demo/fail": 1}
    assert stats["workers"] == {"total": 2, "busy": 0}
    assert stats["endpoints"]["/api/v1/demo/fail"]["failure_rate"] == 1.0
    assert stats["endpoints"]["/api/v1/demo/echo"]["duration_seconds"]["samples"] == 1
    assert stats["memory"]["store_result_bytes"] > 0
    assert len(stats["memory"]["worker_rss_bytes"]) == 2


async def test_estimated_time_learns_from_measured_durations(service: Client) -> None:
    first = await body(await service.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}}))
    assert first["estimatedSeconds"] == {"low": 0.5, "high": 1.0}  # the configured guess
    await wait_finished(service, first["jobId"])
    second = await body(await service.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}}))
    assert second["estimatedSeconds"]["high"] < 0.5
    assert second["estimatedTime"] == "under 1 second"


async def test_health_and_readiness(service: Client) -> None:
    assert (await body(await service.get("/healthz")))["status"] == "ok"
    ready = await body(await service.get("/readyz"))
    assert ready["status"] == "ready" and ready["workers"] == 2


async def test_registered_endpoints_are_listed(service: Client) -> None:
    data = await body(await service.get("/api/v1/endpoints"))
    paths = {e["endpoint"]: e for e in data["endpoints"]}
    assert paths["/api/v1/demo/quick-timeout"]["timeout_seconds"] == 1
    assert paths["/api/v1/demo/sleep"]["validates_payload"] is True


async def test_the_same_idempotency_key_returns_the_same_job(service: Client) -> None:
    start = {"endpoint": "/api/v1/demo/sleep", "payload": {"seconds": 0.2}}
    first = await body(await service.post("/api/v1/jobs/start", json=start, headers={"Idempotency-Key": "order-42"}))
    again = await body(await service.post("/api/v1/jobs/start", json=start, headers={"Idempotency-Key": "order-42"}))
    other = await body(await service.post("/api/v1/jobs/start", json=start, headers={"Idempotency-Key": "order-43"}))
    assert again["jobId"] == first["jobId"]
    assert other["jobId"] != first["jobId"]
    assert (await body(await service.get("/api/v1/jobs")))["total_jobs"] == 2
    bad = await service.post("/api/v1/jobs/start", json=start, headers={"Idempotency-Key": "has space"})
    assert bad.status == 400


async def test_head_on_a_result_answers_with_headers_and_does_not_deliver_it(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/echo", {"hello": "world"})
    await wait_finished(service, job_id)
    head = await service.head(f"/api/v1/jobs/{job_id}/result")
    assert head.status == 200
    assert head.content_type == "application/json"
    assert await head.read() == b""
    stored = await service.app[SERVICE].store.get(job_id)
    assert stored is not None and stored.delivered_at is None, "HEAD must not start the grace period"
    listed = await (await service.get("/api/v1/jobs")).json()
    assert job_id in [j["id"] for j in listed["jobs"]], "a job only HEADed is still listed"
    response = await service.get(f"/api/v1/jobs/{job_id}/result")
    result = await body(response)
    assert result["data"]["data"] == {"hello": "world"}
    assert int(head.headers["Content-Length"]) == len(await response.read())


async def test_head_on_an_unfinished_result_is_not_ready(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/sleep", {"seconds": 2})
    head = await service.head(f"/api/v1/jobs/{job_id}/result")
    assert head.status == 409
