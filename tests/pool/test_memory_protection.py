"""Memory protection: a worker over its RSS limit, a result over its size limit, a full result store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jobs.settings import EndpointSettings
from tests.conftest import DEMO_ENDPOINTS, ServiceFactory, body, make_settings, start_job, wait_finished

HOG = EndpointSettings("/api/v1/demo/hog", "tests.fault_handlers:hog_memory")
FORK_HOG = EndpointSettings("/fork-hog", "tests.pool.fault_handlers:fork_hog")


async def test_a_worker_over_its_memory_limit_is_killed_and_its_job_fails_naming_the_limit(
    start_service: ServiceFactory,
) -> None:
    settings = make_settings(endpoints=(*DEMO_ENDPOINTS, HOG))
    settings = replace(
        settings,
        pool=replace(settings.pool, max_worker_rss_bytes=300 * 1024 * 1024, memory_check_interval_seconds=0.05),
    )
    client = await start_service(settings=settings)
    job_id = await start_job(client, "/api/v1/demo/hog", {"megabytes": 600, "hold_seconds": 30})
    status = await wait_finished(client, job_id, timeout=30)
    assert status["status"] == "failed"
    assert "over its memory limit" in status["message"]
    assert "limit 300.0 MiB" in status["message"]
    follow_up = await start_job(client, "/api/v1/demo/echo", {})
    assert (await wait_finished(client, follow_up))["status"] == "completed", "the pool replaced the worker"


async def test_memory_a_handler_forks_counts_against_its_workers_limit(start_service: ServiceFactory) -> None:
    settings = make_settings(endpoints=(*DEMO_ENDPOINTS, FORK_HOG), workers=1)
    settings = replace(
        settings,
        pool=replace(settings.pool, max_worker_rss_bytes=300 * 1024 * 1024, memory_check_interval_seconds=0.05),
    )
    client = await start_service(settings=settings)
    job_id = await start_job(client, "/fork-hog", {"megabytes": 600, "seconds": 30})
    status = await wait_finished(client, job_id, timeout=30)
    assert status["status"] == "failed"
    assert "over its memory limit" in status["message"]


async def test_a_result_over_the_size_limit_fails_its_job_instead_of_being_stored(
    start_service: ServiceFactory,
) -> None:
    client = await start_service(jobs={"max_result_bytes": 10_000})
    job_id = await start_job(client, "/api/v1/demo/echo", {"blob": "x" * 20_000})
    status = await wait_finished(client, job_id)
    assert status["status"] == "failed"
    assert "over the configured limit of 0.0 MiB (jobs.max_result_bytes)" in status["message"]
    stats = (await body(await client.get("/api/v1/jobs/stats")))["stats"]
    assert stats["memory"]["store_result_bytes"] == 0
    small = await start_job(client, "/api/v1/demo/echo", {"blob": "x" * 100})
    assert (await wait_finished(client, small))["status"] == "completed"


async def test_new_jobs_get_503_while_held_results_exceed_the_budget(start_service: ServiceFactory) -> None:
    # A start reserves max_result_bytes: 6 KB held plus 10 KB reserved would pass the 15 KB budget.
    budget = {"max_result_bytes": 10_000, "max_stored_result_bytes": 15_000, "max_client_result_bytes": 15_000}
    client = await start_service(jobs={**budget, "result_grace_seconds": 0})
    held = await start_job(client, "/api/v1/demo/echo", {"blob": "x" * 6_000})
    await wait_finished(client, held)
    refused = await client.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}})
    data: dict[str, Any] = await body(refused)
    assert refused.status == 503
    assert data["error"] == "store_full"
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await client.get(f"/api/v1/jobs/{held}/result")).status == 200  # delivery frees the room
    assert (await client.get(f"/api/v1/jobs/{held}/status")).status == 404
    await start_job(client, "/api/v1/demo/echo", {})
