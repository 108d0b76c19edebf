"""The worker pool under the jobs: timeouts, cancellation, crashes, limits, cleanup, concurrency."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import psutil
from aiohttp.test_utils import TestClient

from jobs.api.keys import SERVICE
from jobs.settings import PoolSettings
from tests.conftest import (
    ServiceFactory,
    body,
    pid_from_message,
    start_job,
    status_of,
    wait_finished,
    wait_for,
    wait_process_gone,
)

Client = TestClient[Any, Any]


async def running_pid(client: Client, job_id: str) -> int:
    """Wait for the job to run and report its worker's pid."""
    status = await wait_for(client, job_id, lambda s: s["message"].startswith("pid "))
    assert status["status"] == "running"
    return pid_from_message(status["message"])


async def test_timeout_kills_a_cpu_bound_handler_and_expires_the_job(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/quick-timeout", {"milliseconds": 60_000})
    pid = await running_pid(service, job_id)
    status = await wait_finished(service, job_id, timeout=15)
    assert status["status"] == "expired"
    assert "ran longer than its 1 s time limit" in status["message"]
    await wait_process_gone(pid)
    result = await service.get(f"/api/v1/jobs/{job_id}/result")
    assert result.status == 410
    assert (await result.json())["error"] == "job_expired"
    follow_up = await start_job(service, "/api/v1/demo/echo", {"after": "timeout"})
    assert (await wait_finished(service, follow_up))["status"] == "completed"


async def test_deleting_a_running_job_kills_its_worker_process(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/cpu", {"milliseconds": 60_000})
    pid = await running_pid(service, job_id)
    response = await service.delete(f"/api/v1/jobs/{job_id}")
    data = await body(response)
    assert response.status == 200 and data["status"] == "running"
    await wait_process_gone(pid)
    assert (await service.get(f"/api/v1/jobs/{job_id}/status")).status == 404
    follow_up = await start_job(service, "/api/v1/demo/echo", {})
    assert (await wait_finished(service, follow_up))["status"] == "completed"


async def test_deleting_a_pending_job_removes_it_before_it_starts(start_service: ServiceFactory) -> None:
    client = await start_service(workers=1)
    blocker = await start_job(client, "/api/v1/demo/sleep", {"seconds": 1, "steps": 1})
    waiting = await start_job(client, "/api/v1/demo/echo", {"never": "runs"})
    assert (await status_of(client, waiting))["status"] == "pending"
    assert (await client.delete(f"/api/v1/jobs/{waiting}")).status == 200
    assert (await wait_finished(client, blocker))["status"] == "completed"
    await asyncio.sleep(0.1)
    assert (await client.get(f"/api/v1/jobs/{waiting}/status")).status == 404
    stats = (await body(await client.get("/api/v1/jobs/stats")))["stats"]
    assert stats["endpoints"]["/api/v1/demo/echo"]["finished"] == {}, "the deleted job must never run"


async def test_a_worker_that_kills_itself_fails_only_its_own_job(service: Client) -> None:
    parallel = await start_job(service, "/api/v1/demo/sleep", {"seconds": 1, "steps": 2})
    crashing = await start_job(service, "/api/v1/demo/crash", {"exit_code": 70})
    crash_status = await wait_finished(service, crashing)
    assert crash_status["status"] == "failed"
    assert "worker process exited unexpectedly with code 70" in crash_status["message"]
    assert (await wait_finished(service, parallel))["status"] == "completed"
    after = [await start_job(service, "/api/v1/demo/echo", {"n": i}) for i in range(4)]
    assert [(await wait_finished(service, j))["status"] for j in after] == ["completed"] * 4
    assert len(service.server.app[SERVICE].runner.worker_pids()) == 2


async def test_a_worker_killed_by_a_signal_is_reported_as_such(service: Client) -> None:
    job_id = await start_job(service, "/api/v1/demo/cpu", {"milliseconds": 60_000})
    pid = await running_pid(service, job_id)
    psutil.Process(pid).kill()
    status = await wait_finished(service, job_id)
    assert status["status"] == "failed"
    assert "SIGKILL" in status["message"] and "memory" in status["message"]


async def test_per_client_limit_answers_429_with_retry_after(start_service: ServiceFactory) -> None:
    client = await start_service(jobs={"per_client_limit": 3})
    jobs = [await start_job(client, "/api/v1/demo/sleep", {"seconds": 3}) for _ in range(3)]
    response = await client.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}})
    data = await body(response)
    assert response.status == 429
    assert data["error"] == "too_many_jobs" and "3 pending or running jobs" in data["message"]
    assert int(response.headers["Retry-After"]) > 0
    await client.delete(f"/api/v1/jobs/{jobs[0]}")
    await start_job(client, "/api/v1/demo/echo", {})  # a slot freed up


async def test_clients_behind_a_trusted_proxy_are_limited_separately(start_service: ServiceFactory) -> None:
    client = await start_service(jobs={"per_client_limit": 1}, server={"trusted_proxies": ("127.0.0.1",)})
    alice = {"X-Forwarded-For": "203.0.113.7"}
    bob = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}  # right-most untrusted hop is bob's address
    await start_job(client, "/api/v1/demo/sleep", {"seconds": 3}, headers=alice)
    await start_job(client, "/api/v1/demo/sleep", {"seconds": 3}, headers=bob)
    again = await client.post(
        "/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}}, headers=alice
    )
    assert again.status == 429


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(start_service: ServiceFactory) -> None:
    client = await start_service(jobs={"per_client_limit": 1})
    await start_job(client, "/api/v1/demo/sleep", {"seconds": 3}, headers={"X-Forwarded-For": "203.0.113.7"})
    spoofed = await client.post(
        "/api/v1/jobs/start",
        json={"endpoint": "/api/v1/demo/echo", "payload": {}},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert spoofed.status == 429, "a spoofed header must not buy a fresh limit"


async def test_jobs_beyond_the_pool_wait_in_order_and_the_queue_is_bounded(start_service: ServiceFactory) -> None:
    client = await start_service(workers=1, jobs={"max_pending": 2})
    first = await start_job(client, "/api/v1/demo/sleep", {"seconds": 0.5, "steps": 1})
    await wait_for(client, first, lambda s: s["status"] == "running")
    second = await start_job(client, "/api/v1/demo/echo", {"n": 2})
    third = await start_job(client, "/api/v1/demo/echo", {"n": 3})
    assert (await status_of(client, second))["status"] == "pending"
    full = await client.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}})
    data = await body(full)
    assert full.status == 503 and data["error"] == "queue_full"
    assert int(full.headers["Retry-After"]) > 0
    statuses = [await wait_finished(client, j) for j in (first, second, third)]
    assert all(s["status"] == "completed" for s in statuses)
    started = [s["started_at"] for s in statuses]
    assert started == sorted(started), "pending jobs must start in the order they were queued"


async def test_a_pending_job_that_waits_past_its_timeout_expires(start_service: ServiceFactory) -> None:
    client = await start_service(workers=1, jobs={"timeout_seconds": 0.5})
    blocker = await start_job(client, "/api/v1/demo/cpu", {"milliseconds": 60_000})
    waiting = await start_job(client, "/api/v1/demo/echo", {})
    assert (await wait_finished(client, blocker, timeout=10))["status"] == "expired"
    status = await wait_finished(client, waiting, timeout=10)
    assert status["status"] == "expired"
    assert "waited more than its 0.5 s time limit" in status["message"]


async def test_cleanup_deletes_finished_jobs_after_the_retention(start_service: ServiceFactory) -> None:
    client = await start_service(
        workers=1,
        jobs={"retention_seconds": 0.3, "cleanup_interval_seconds": 0.1, "timeout_seconds": 2},
    )
    done = await start_job(client, "/api/v1/demo/echo", {})
    await wait_finished(client, done)
    deadline = time.monotonic() + 5
    while (await client.get(f"/api/v1/jobs/{done}/status")).status != 404:
        assert time.monotonic() < deadline, "the finished job was never cleaned up"
        await asyncio.sleep(0.05)
    stats = (await body(await client.get("/api/v1/jobs/stats")))["stats"]
    assert stats["total_jobs"] == 0 and stats["memory"]["store_result_bytes"] == 0


async def test_fifty_concurrent_jobs_are_all_accounted_for(start_service: ServiceFactory) -> None:
    client = await start_service(jobs={"per_client_limit": 100})
    kinds = ["/api/v1/demo/echo", "/api/v1/demo/cpu", "/api/v1/demo/fail"]
    payloads = [{"n": i, "milliseconds": 5} for i in range(50)]
    job_ids = await asyncio.gather(*(start_job(client, kinds[i % 3], p) for i, p in enumerate(payloads)))
    assert len(set(job_ids)) == 50
    finals = await asyncio.gather(*(wait_finished(client, j, timeout=60) for j in job_ids))
    expected = ["completed", "completed", "failed"]
    assert [f["status"] for f in finals] == [expected[i % 3] for i in range(50)]
    results = await asyncio.gather(*(client.get(f"/api/v1/jobs/{j}/result") for j in job_ids))
    echoes = [await r.json() for i, r in enumerate(results) if i % 3 == 0]
    assert [e["data"]["data"]["n"] for e in echoes] == list(range(0, 50, 3))
    stats = (await body(await client.get("/api/v1/jobs/stats")))["stats"]
    assert stats["active_jobs"] == 0 and stats["total_jobs"] == 0


async def test_cleanup_expires_a_pending_job_while_the_worker_is_still_busy(start_service: ServiceFactory) -> None:
    client = await start_service(workers=1, jobs={"cleanup_interval_seconds": 0.1})
    blocker = await start_job(client, "/api/v1/demo/sleep", {"seconds": 5, "steps": 1})
    await wait_for(client, blocker, lambda s: s["status"] == "running")
    waiting = await start_job(client, "/api/v1/demo/quick-timeout", {"milliseconds": 1})
    status = await wait_finished(client, waiting, timeout=5)
    assert status["status"] == "expired"
    assert "waited more than its 1 s time limit" in status["message"]
    assert (await status_of(client, blocker))["status"] == "running"


async def test_a_worker_is_recycled_after_max_tasks_even_under_continuous_load(start_service: ServiceFactory) -> None:
    """Quick jobs queue up inside a busy worker; that queue must not keep a worker alive past its
    recycling limit (it used to be recycled only when its queue happened to be empty)."""
    client = await start_service(
        pool=PoolSettings(workers=1, max_tasks_per_worker=4), jobs={"per_client_limit": 100, "timeout_seconds": 30}
    )
    job_ids = await asyncio.gather(
        *(start_job(client, "/api/v1/demo/cpu", {"milliseconds": 2, "report_pid": False}) for _ in range(24))
    )
    jobs_per_pid: dict[int, int] = {}
    for job_id in job_ids:
        final = await wait_finished(client, job_id)
        assert final["status"] == "completed", final
        result = await body(await client.get(f"/api/v1/jobs/{job_id}/result"))
        pid = result["data"]["data"]["pid"]
        jobs_per_pid[pid] = jobs_per_pid.get(pid, 0) + 1
    assert sum(jobs_per_pid.values()) == 24
    assert max(jobs_per_pid.values()) <= 4, jobs_per_pid


async def test_workers_run_at_the_configured_niceness(start_service: ServiceFactory) -> None:
    """A lower CPU priority for handlers is what keeps status answers fast while every worker computes."""
    client = await start_service(pool=PoolSettings(workers=1, niceness=12))
    job_id = await start_job(client, "/api/v1/demo/sleep", {"seconds": 1, "steps": 1})
    pid = await running_pid(client, job_id)
    assert psutil.Process(pid).nice() == os.nice(0) + 12
