"""Under faults a job runs once and ends once: a server instance stopped past its lease (SIGSTOP) has its
job taken over, and its own attempt neither runs beside the new one nor records a second outcome."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from tests.cluster import Cluster, Instance, running_cluster
from tests.waiting import wait_until_async

CONFIG = """
[server]
shutdown_grace_seconds = 1
[pool]
workers = 1
[jobs]
cleanup_interval_seconds = 0.2
[store]
backend = "redis"
lease_seconds = 2
[endpoints]
"/record" = { handler = "tests.pool.fault_handlers:record_run", retries = 1 }
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two instances that both run jobs and serve the API, on a private Redis."""
    with running_cluster(tmp_path, CONFIG, ("all", "all"), prefix="f") as cluster:
        yield cluster


@pytest.fixture
def instances(cluster: Cluster) -> list[Instance]:
    return cluster.instances


def runs(log: Path) -> list[dict[str, Any]]:
    """The handler's records so far."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]


async def wait_runs(log: Path, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
    """Wait (with a deadline) until the records satisfy `predicate`."""
    deadline = time.monotonic() + timeout
    while not predicate(records := runs(log)):
        assert time.monotonic() < deadline, records
        await asyncio.sleep(0.05)
    return records


def server_of_worker(worker_pid: int, servers: list[Instance]) -> Instance:
    """The instance whose pool runs this worker (worker -> forkserver -> server)."""
    forkserver = psutil.Process(worker_pid).ppid()
    owner = psutil.Process(forkserver).ppid()
    return next(s for s in servers if s.pid == owner)


async def test_an_instance_stopped_past_its_lease_never_runs_the_job_beside_its_rerun(
    instances: list[Instance], tmp_path: Path
) -> None:
    log = tmp_path / "runs.jsonl"
    async with aiohttp.ClientSession() as session:
        start = {"endpoint": "/record", "payload": {"log": str(log), "tag": "job", "seconds": 8}}
        async with session.post(f"{instances[0].url}/api/v1/jobs/start", json=start) as response:
            job_id = (await response.json())["jobId"]
        first = (await wait_runs(log, lambda r: any(x["event"] == "began" for x in r)))[0]
        stalled = server_of_worker(first["pid"], instances)
        healthy = next(s for s in instances if s is not stalled)
        stalled.signal(signal.SIGSTOP)
        try:
            records = await wait_runs(log, lambda r: sum(x["event"] == "began" for x in r) == 2, timeout=30)
        finally:
            stalled.signal(signal.SIGCONT)
        second = [x for x in records if x["event"] == "began"][1]
        assert second["pid"] != first["pid"]
        deadline = time.monotonic() + 30
        while True:
            async with session.get(f"{healthy.url}/api/v1/jobs/{job_id}/status") as response:
                status = await response.json()
            if status["status"] not in ("pending", "running"):
                break
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.1)
    assert status["status"] == "completed", status
    records = runs(log)
    late = [x for x in records if x["pid"] == first["pid"] and x["at"] >= second["at"]]
    assert late == [], "the stopped instance's attempt ran on beside the rerun"
    assert [x["pid"] for x in records if x["event"] == "ended"] == [second["pid"]], "exactly one attempt ended"
    outcomes = [
        line
        for server in instances
        for line in server.logs().splitlines()
        if job_id in line and ('"job.completed"' in line or '"job.failed"' in line)
    ]
    assert len(outcomes) == 1, outcomes


async def test_cleanup_during_a_redis_outage_logs_one_line_per_outage_and_no_traceback(cluster: Cluster) -> None:
    # Found by the chaos soak: every sweep (each cleanup interval) during an outage logged an error
    # with the whole redis-py traceback.
    server = cluster.instances[0]
    refusals = 0

    async def refused_often() -> bool:
        nonlocal refusals
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/readyz") as response:
            refusals += response.status == 503
        return refusals >= 10  # 10 answers 0.1 s apart: past several sweeps of 0.2 s

    cluster.redis.stop()
    await wait_until_async(lambda: "cleanup" in server.logs() and "unavailable" in server.logs(), 10, "a sweep to fail")
    await wait_until_async(refused_often, 15, "several sweeps during the outage", interval=0.1)
    cluster.redis.start()
    await wait_until_async(lambda: "cleanup sweeps succeed again" in server.logs(), 15, "a sweep to succeed again")
    cleanup_lines = [line for line in server.logs().splitlines() if '"logger":"docjobs.cleanup"' in line]
    failures = [line for line in cleanup_lines if "unavailable" in line]
    assert len(failures) == 1, failures
    assert "Traceback" not in server.logs()
