"""GET /metrics: exact counters from real jobs, gauges of the moment, bounded labels, and promtool's verdict."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from jobs import errors
from jobs.api.errors import status_for
from jobs.api.keys import SERVICE
from jobs.api.routes.metrics import REJECTION_STATUSES
from jobs.metrics import FINAL_STATUSES, REJECTION_REASONS
from tests.conftest import DEMO_ENDPOINTS, ServiceFactory, body, start_job, wait_finished, wait_for
from tests.external_tools import require_program

ENDPOINTS = [e.path for e in DEMO_ENDPOINTS]
ECHO, SLEEP, FAIL, CRASH, QUICK_TIMEOUT = (
    "/api/v1/demo/echo",
    "/api/v1/demo/sleep",
    "/api/v1/demo/fail",
    "/api/v1/demo/crash",
    "/api/v1/demo/quick-timeout",
)

Samples = dict[str, dict[frozenset[tuple[str, str]], float]]


async def scrape_text(client: TestClient[Any, Any]) -> str:
    """The /metrics body, asserting the Prometheus text format."""
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await response.text()


def parse(text: str) -> Samples:
    """Sample name -> {label set -> value}."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


async def scrape(client: TestClient[Any, Any]) -> Samples:
    """The parsed /metrics."""
    return parse(await scrape_text(client))


async def scrape_until(
    client: TestClient[Any, Any], ready: Callable[[Samples], bool], timeout: float = 10.0
) -> Samples:
    """Scrape until `ready` holds: job events are counted just after the store records them."""
    deadline = time.monotonic() + timeout
    while True:
        samples = await scrape(client)
        if ready(samples):
            return samples
        assert time.monotonic() < deadline, f"metrics never became ready: {samples}"
        await asyncio.sleep(0.02)


def by(samples: Samples, name: str, *keys: str) -> dict[tuple[str, ...], float]:
    """The samples of one name, keyed by the values of `keys` (which must be all their labels)."""
    series = {}
    for labels, value in samples.get(name, {}).items():
        as_dict = dict(labels)
        assert set(as_dict) == set(keys), f"{name} has labels {sorted(as_dict)}"
        series[tuple(as_dict[k] for k in keys)] = value
    return series


def one(samples: Samples, name: str, **labels: str) -> float:
    """The value of one series."""
    return samples[name][frozenset(labels.items())]


async def test_jobs_are_counted_by_endpoint_and_final_status(start_service: ServiceFactory) -> None:
    client = await start_service()
    job_ids = [
        await start_job(client, ECHO, {"n": 1}),
        await start_job(client, ECHO, {"n": 2}),
        await start_job(client, FAIL, {"message": "no such sheet"}),
        await start_job(client, CRASH),
        await start_job(client, QUICK_TIMEOUT, {"milliseconds": 5000}),
    ]
    direct = await client.post(ECHO, json={"direct": True})
    assert direct.status == 200
    outcomes = [(await wait_finished(client, job_id))["status"] for job_id in job_ids]
    assert outcomes == ["completed", "completed", "failed", "failed", "expired"]

    samples = await scrape_until(client, lambda s: sum(s["docjobs_jobs_finished_total"].values()) == 6)

    assert by(samples, "docjobs_jobs_started_total", "endpoint") == {
        (ECHO,): 3,
        (SLEEP,): 0,
        ("/api/v1/demo/cpu",): 0,
        (FAIL,): 1,
        (CRASH,): 1,
        (QUICK_TIMEOUT,): 1,
    }
    expected_finished = {(e, s): 0.0 for e in ENDPOINTS for s in FINAL_STATUSES}
    expected_finished |= {(ECHO, "completed"): 3, (FAIL, "failed"): 1, (CRASH, "failed"): 1}
    expected_finished[(QUICK_TIMEOUT, "expired")] = 1
    assert by(samples, "docjobs_jobs_finished_total", "endpoint", "status") == expected_finished
    ran = {(ECHO,): 3, (FAIL,): 1, (CRASH,): 1, (QUICK_TIMEOUT,): 1}
    assert by(samples, "docjobs_job_duration_seconds_count", "endpoint") == ran
    assert by(samples, "docjobs_job_queue_wait_seconds_count", "endpoint") == ran
    # The quick-timeout job was stopped at its 1 s limit: its duration is that limit, give or take.
    assert 1.0 <= one(samples, "docjobs_job_duration_seconds_sum", endpoint=QUICK_TIMEOUT) < 5.0
    assert one(samples, "docjobs_job_duration_seconds_bucket", endpoint=QUICK_TIMEOUT, le="0.5") == 0
    assert one(samples, "docjobs_job_duration_seconds_bucket", endpoint=QUICK_TIMEOUT, le="+Inf") == 1
    assert one(samples, "docjobs_job_duration_seconds_bucket", endpoint=ECHO, le="600.0") == 3
    assert by(samples, "docjobs_jobs_rejected_total", "reason") == {(r,): 0 for r in REJECTION_REASONS}


async def test_refused_job_requests_are_counted_by_reason(start_service: ServiceFactory) -> None:
    client = await start_service(server={"max_body_bytes": 2048}, jobs={"per_client_limit": 1})
    refusals = [
        (client.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/nope"}), 400),
        (client.post("/api/v1/jobs/start", json={"endpoint": SLEEP, "payload": {"seconds": -1}}), 400),
        (client.post("/api/v1/jobs/start", data=b"{not json", headers={"Content-Type": "application/json"}), 400),
        (client.post("/api/v1/jobs/start", data=b"x", headers={"Content-Type": "text/plain"}), 415),
        (client.post(ECHO, data=b"x", headers={"Content-Type": "text/plain"}), 415),
        (client.post("/api/v1/jobs/start", json={"endpoint": ECHO, "payload": {"pad": "x" * 4096}}), 413),
    ]
    for request, status in refusals:
        response = await request
        assert response.status == status, await response.text()
    sleeper = await start_job(client, SLEEP, {"seconds": 30, "steps": 30})
    over_limit = await client.post("/api/v1/jobs/start", json={"endpoint": ECHO})
    assert over_limit.status == 429
    not_a_job_request = await client.get("/api/v1/jobs", params={"status": "bogus"})
    assert not_a_job_request.status == 400
    assert (await client.delete(f"/api/v1/jobs/{sleeper}")).status == 200

    samples = await scrape(client)

    expected = {(reason,): 0.0 for reason in REJECTION_REASONS}
    expected |= {
        ("endpoint_not_allowed",): 1,
        ("invalid_payload",): 1,
        ("invalid_json",): 1,
        ("unsupported_media_type",): 2,
        ("payload_too_large",): 1,
        ("too_many_jobs",): 1,
    }
    assert by(samples, "docjobs_jobs_rejected_total", "reason") == expected
    assert one(samples, "docjobs_jobs_started_total", endpoint=SLEEP) == 1
    assert one(samples, "docjobs_jobs_started_total", endpoint=ECHO) == 0


async def test_a_full_queue_is_counted_as_queue_full(start_service: ServiceFactory) -> None:
    client = await start_service(workers=1, jobs={"max_pending": 1})
    running = await start_job(client, SLEEP, {"seconds": 30, "steps": 30})
    await wait_for(client, running, lambda s: s["status"] == "running")
    waiting = await start_job(client, SLEEP, {"seconds": 30, "steps": 30})
    refused = await client.post("/api/v1/jobs/start", json={"endpoint": SLEEP, "payload": {"seconds": 1}})
    assert refused.status == 503
    assert (await body(refused))["error"] == "queue_full"
    for job_id in (waiting, running):
        assert (await client.delete(f"/api/v1/jobs/{job_id}")).status == 200

    samples = await scrape(client)

    assert one(samples, "docjobs_jobs_rejected_total", reason="queue_full") == 1
    assert sum(samples["docjobs_jobs_rejected_total"].values()) == 1


async def test_gauges_show_jobs_queue_workers_and_memory_now(start_service: ServiceFactory) -> None:
    client = await start_service(workers=1)
    running = await start_job(client, SLEEP, {"seconds": 30, "steps": 30})
    await wait_for(client, running, lambda s: s["status"] == "running")
    waiting = await start_job(client, SLEEP, {"seconds": 30, "steps": 30})

    samples = await scrape(client)

    assert by(samples, "docjobs_jobs", "status") == {
        ("pending",): 1,
        ("running",): 1,
        ("completed",): 0,
        ("failed",): 0,
        ("expired",): 0,
    }
    assert one(samples, "docjobs_queue_pending_jobs") == 1
    assert one(samples, "docjobs_worker_slots") == 1
    assert one(samples, "docjobs_worker_slots_busy") == 1
    assert one(samples, "docjobs_store_result_bytes") == 0
    assert one(samples, "docjobs_server_resident_memory_bytes") > 10_000_000
    worker_rss = by(samples, "docjobs_worker_resident_memory_bytes", "worker")
    assert list(worker_rss) == [("0",)]
    assert worker_rss[("0",)] > 1_000_000
    assert one(samples, "process_resident_memory_bytes") > 10_000_000

    for job_id in (waiting, running):
        assert (await client.delete(f"/api/v1/jobs/{job_id}")).status == 200
    echo = await start_job(client, ECHO, {"text": "x" * 1000})
    await wait_finished(client, echo)

    samples = await scrape_until(client, lambda s: one(s, "docjobs_worker_slots_busy") == 0)

    assert by(samples, "docjobs_jobs", "status")[("completed",)] == 1
    assert one(samples, "docjobs_queue_pending_jobs") == 0
    assert one(samples, "docjobs_store_result_bytes") > 1000


async def test_http_latency_is_labelled_by_route_template_never_the_raw_path(start_service: ServiceFactory) -> None:
    client = await start_service()
    job_id = await start_job(client, ECHO)
    await wait_finished(client, job_id)
    assert (await client.get(f"/api/v1/jobs/{job_id}/result")).status == 200
    assert (await client.get("/api/v1/no/such/route")).status == 404
    assert (await client.put("/api/v1/jobs")).status == 405

    text = await scrape_text(client)
    samples = parse(text)

    counts = by(samples, "docjobs_http_request_duration_seconds_count", "route", "method", "status")
    assert counts[("/api/v1/jobs/start", "POST", "2xx")] == 1
    assert counts[("/api/v1/jobs/{job_id}/status", "GET", "2xx")] >= 1
    assert counts[("/api/v1/jobs/{job_id}/result", "GET", "2xx")] == 1
    assert counts[("unmatched", "GET", "4xx")] == 1
    assert counts[("unmatched", "PUT", "4xx")] == 1
    assert job_id not in text
    assert "127.0.0.1" not in text
    assert "/api/v1/no/such/route" not in text


async def test_cleanup_sweeps_are_counted_with_what_they_removed(start_service: ServiceFactory) -> None:
    client = await start_service(jobs={"retention_seconds": 0, "result_grace_seconds": 0})
    kept = await start_job(client, ECHO)
    delivered = await start_job(client, ECHO)
    for job_id in (kept, delivered):
        await wait_finished(client, job_id)
    assert (await client.get(f"/api/v1/jobs/{delivered}/result")).status == 200
    service = client.server.app[SERVICE]

    await service.sweep()
    await service.sweep()
    samples = await scrape(client)

    assert one(samples, "docjobs_cleanup_sweeps_total") == 2
    assert by(samples, "docjobs_cleanup_removed_total", "reason") == {
        ("finished",): 1,
        ("delivered",): 1,
        ("expired_pending",): 0,
    }


async def test_each_app_counts_only_its_own_jobs(start_service: ServiceFactory) -> None:
    busy, idle = await start_service(), await start_service()
    await wait_finished(busy, await start_job(busy, ECHO))

    await scrape_until(busy, lambda s: one(s, "docjobs_jobs_finished_total", endpoint=ECHO, status="completed") == 1)
    assert one(await scrape(idle), "docjobs_jobs_started_total", endpoint=ECHO) == 0


async def test_promtool_accepts_the_live_output(start_service: ServiceFactory) -> None:
    promtool = require_program("promtool", "prometheus")
    client = await start_service()
    for endpoint in (ECHO, FAIL):
        await wait_finished(client, await start_job(client, endpoint))
    await client.post("/api/v1/jobs/start", json={"endpoint": "/nope"})
    text = await scrape_text(client)
    assert "docjobs_job_duration_seconds_bucket" in text

    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30, check=False
    )

    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert checked.stdout.decode().strip() == "", checked.stdout.decode()


def test_every_refusal_error_has_its_own_reason_label() -> None:
    def subclasses(cls: type[errors.DocjobsError]) -> list[type[errors.DocjobsError]]:
        return [cls, *(sub for direct in cls.__subclasses__() for sub in subclasses(direct))]

    refusals = {cls.code for cls in subclasses(errors.DocjobsError) if status_for(cls("x")) in REJECTION_STATUSES}

    # A start or a direct call has no job id in its path and holds no watch: those two never refuse one.
    assert refusals - {"invalid_job_id", "too_many_watches"} <= set(REJECTION_REASONS)
