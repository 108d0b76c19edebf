"""Under faults a job runs once and ends once: a server instance stopped past its lease (SIGSTOP) has its
job taken over, and its own attempt neither runs beside the new one nor records a second outcome."""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from jobs.store.status_cache import DEFAULT_TTL_SECONDS
from tests.cluster import Cluster, Instance, running_cluster
from tests.conftest import wait_process_gone
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
"/note" = { handler = "tests.fault_handlers:note_run" }
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two instances that both run jobs and serve the API, on a private Redis that keeps an AOF."""
    with running_cluster(tmp_path, CONFIG, ("all", "all"), appendonly=True, prefix="f") as cluster:
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


async def answer(method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as response:
        return response.status, await response.json()


async def start_noted(instance: Instance, log: Path, token: str, seconds: float) -> str:
    body = {"endpoint": "/note", "payload": {"log": str(log), "token": token, "seconds": seconds}}
    status, data = await answer("POST", f"{instance.url}/api/v1/jobs/start", json=body)
    assert status == 202, data
    job_id: str = data["jobId"]
    return job_id


def noted(log: Path) -> list[tuple[str, int]]:
    """The note_run handler's lines: (token, worker pid), one per run."""
    if not log.exists():
        return []
    return [(token, int(pid)) for token, pid in (line.split() for line in log.read_text().splitlines())]


async def final_status(instance: Instance, job_id: str, timeout: float = 30) -> dict[str, Any]:
    async def final() -> dict[str, Any] | None:
        status, data = await answer("GET", f"{instance.url}/api/v1/jobs/{job_id}/status")
        assert status in (200, 503), (status, data)
        return data if status == 200 and data["status"] not in ("pending", "running") else None

    result: dict[str, Any] = await wait_until_async(final, timeout, f"job {job_id} to finish")
    return result


async def test_after_a_redis_restart_with_aof_jobs_continue_and_none_runs_twice(
    cluster: Cluster, tmp_path: Path
) -> None:
    log = tmp_path / "noted.txt"
    api = cluster.instances[0]
    # Two workers in all: two jobs run through the restart, the others wait in the queue meanwhile.
    ids = [await start_noted(api, log, f"job{n}", 1.5) for n in range(6)]
    await wait_until_async(lambda: len(noted(log)) >= 2, 20, "two jobs running")
    cluster.restart_redis()
    finals = [await final_status(cluster.instances[n % 2], job_id) for n, job_id in enumerate(ids)]
    assert [f["status"] for f in finals] == ["completed"] * 6, finals
    tokens = [token for token, _ in noted(log)]
    assert sorted(tokens) == sorted(f"job{n}" for n in range(6)), "each job ran exactly once"
    later = await start_noted(cluster.instances[1], log, "after", 0.1)
    assert (await final_status(api, later))["status"] == "completed"


async def test_after_flushall_instances_serve_on_and_vanished_jobs_stay_gone(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "noted.txt"
    api = cluster.instances[0]
    done = await start_noted(api, log, "done", 0.1)
    assert (await final_status(api, done))["status"] == "completed"
    # One long job on each instance's single worker, and one waiting behind them in the queue.
    running = [await start_noted(api, log, f"running{n}", 60) for n in range(2)]
    await wait_until_async(lambda: len(noted(log)) == 3, 20, "both long jobs to run")
    waiting = await start_noted(api, log, "waiting", 0.1)
    workers = [pid for token, pid in noted(log) if token.startswith("running")]
    with cluster.client() as client:
        client.flushall()
    for worker in workers:  # their records vanished: their workers are stopped
        await wait_process_gone(worker, timeout=15)
    for instance in cluster.instances:
        for job_id in (done, *running, waiting):
            status, data = await answer("GET", f"{instance.url}/api/v1/jobs/{job_id}/result")
            assert (status, data["error"]) == (404, "job_not_found"), (status, data)
            # A status poll may be answered from the instance's status cache, which learns of no removal
            # made behind the scripts' backs (FLUSHALL announces nothing) until its entries' bound.
            status_url = f"{instance.url}/api/v1/jobs/{job_id}/status"
            status, data = await wait_until_async(
                functools.partial(_gone, status_url), DEFAULT_TTL_SECONDS + 10, "the status poll to find the job gone"
            )
            assert (status, data["error"]) == (404, "job_not_found"), (status, data)
    fresh = await start_noted(cluster.instances[1], log, "fresh", 0.1)
    assert (await final_status(api, fresh))["status"] == "completed"
    status, result = await answer("GET", f"{api.url}/api/v1/jobs/{fresh}/result")
    assert status == 200, result
    status, _ = await answer("GET", f"{api.url}/readyz")
    assert status == 200
    for instance in cluster.instances:  # the stopped jobs' outcomes were not written back (resurrected)
        for job_id in running:
            status, _ = await answer("GET", f"{instance.url}/api/v1/jobs/{job_id}/status")
            assert status == 404
    assert sorted(t for t, _ in noted(log)) == ["done", "fresh", "running0", "running1"], (
        "each ran once, 'waiting' never"
    )
    assert not any("Traceback" in instance.logs() for instance in cluster.instances)


async def _gone(url: str) -> tuple[int, dict[str, Any]] | None:
    status, data = await answer("GET", url)
    return (status, data) if status == 404 else None
