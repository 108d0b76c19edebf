"""Every instance on one Redis reports the fleet's figures: an API-only instance sees the worker
instances' workers, finished counts, failure rates and durations, and its estimates learn from them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Instance, running_cluster
from tests.test_scale_out import call, finished, start, wait_status

CONFIG = """
[server]
shutdown_grace_seconds = 1
[pool]
workers = 1
[jobs]
per_client_limit = 1000
max_result_bytes = 1048576        # small results: each job reserves this of its client's share at admission
[store]
backend = "redis"
lease_seconds = 2
[endpoints]
"/api/v1/demo/sleep" = { handler = "handlers.demo:sleep", estimated_seconds = 30 }
"""
SLEEP = "/api/v1/demo/sleep"


@dataclass
class Fleet:
    """An API-only instance, a worker-only one and one that does both, on one private Redis."""

    api: Instance
    workers: list[Instance]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with running_cluster(tmp_path, CONFIG, ("api", "worker", "all"), prefix="f") as cluster:
        yield Fleet(cluster.instances[0], cluster.instances[1:])


async def stats(instance: Instance) -> dict[str, Any]:
    status, data = await call("GET", f"{instance.url}/api/v1/jobs/stats")
    assert status == 200, data
    figures: dict[str, Any] = data["stats"]
    return figures


async def wait_stats(instance: Instance, done: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        figures = await stats(instance)
        if done(figures):
            return figures
        assert time.monotonic() < deadline, figures
        await asyncio.sleep(0.05)


async def run_all(starts: list[Awaitable[str]]) -> list[str]:
    return list(await asyncio.gather(*starts))


async def test_an_api_instance_reports_the_workers_of_every_live_worker_instance(fleet: Fleet) -> None:
    idle = await wait_stats(fleet.api, lambda s: s["workers"]["total"] == 2)
    assert idle["workers"]["busy"] == 0
    ids = await run_all([start(fleet.api, SLEEP, {"seconds": 4, "steps": 4}) for _ in range(2)])
    busy = await wait_stats(fleet.api, lambda s: s["workers"]["busy"] == 2)
    assert busy["workers"]["total"] == 2
    same = await stats(fleet.workers[1])
    assert same["workers"] == {"total": 2, "busy": 2}, "an instance with workers reports the fleet's too"
    for job_id in ids:
        await wait_status(fleet.api, job_id, finished)
    await wait_stats(fleet.api, lambda s: s["workers"] == {"total": 2, "busy": 0})


async def test_finished_counts_failure_rates_and_durations_are_the_fleets(fleet: Fleet) -> None:
    ids = await run_all([start(fleet.api, SLEEP, {"seconds": 0.3}) for _ in range(4)])
    for job_id in ids:
        assert (await wait_status(fleet.api, job_id, finished))["status"] == "completed"
    for instance in (fleet.api, fleet.workers[1]):
        figures = await wait_stats(instance, lambda s: s["endpoints"][SLEEP]["finished"].get("completed") == 4)
        endpoint = figures["endpoints"][SLEEP]
        assert endpoint["failure_rate"] == 0.0
        durations = endpoint["duration_seconds"]
        assert durations["samples"] == 4 and 0.3 <= durations["p50"] < 5, durations


async def test_estimates_on_an_api_instance_learn_from_jobs_run_by_the_workers(fleet: Fleet) -> None:
    first = await call(
        "POST", f"{fleet.api.url}/api/v1/jobs/start", json={"endpoint": SLEEP, "payload": {"seconds": 2}}
    )
    assert first[0] == 202 and first[1]["estimatedTime"] == "15-30 seconds", "before any sample: the guess"
    await wait_status(fleet.api, first[1]["jobId"], finished)
    deadline = time.monotonic() + 20
    while True:
        status, data = await call(
            "POST", f"{fleet.api.url}/api/v1/jobs/start", json={"endpoint": SLEEP, "payload": {"seconds": 2}}
        )
        assert status == 202, data
        if data["estimatedTime"] == "2-3 seconds":
            break
        assert time.monotonic() < deadline, data
        await wait_status(fleet.api, data["jobId"], finished)
