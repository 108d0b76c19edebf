"""Several instances on one Redis act as one service: any API answers for any job, work is shared,
cancellation reaches the worker that runs the job, a lost instance's jobs are recovered, and the
service rides out a Redis restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster import Cluster, Instance, running_cluster
from tests.conftest import wait_process_gone
from tests.process import Reachable
from tests.waiting import wait_until_async

CONFIG = """
[server]
shutdown_grace_seconds = 1
[pool]
workers = 1
[jobs]
per_client_limit = 1000
max_result_bytes = 65536          # small results: each job reserves this of its client's share at admission
cleanup_interval_seconds = 0.5
[store]
backend = "redis"
lease_seconds = 2
[endpoints]
"/api/v1/demo/echo" = "handlers.demo:echo"
"/api/v1/demo/sleep" = { handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep" }
"/api/v1/demo/sleep-retried" = { handler = "handlers.demo:sleep", retries = 1 }
"""


# The fixture starts a redis-server and four server.py instances one after another: about 4 s on a
# quiet machine, past the suite's 30 s on a loaded one (seen with the load average at 15 on 2 cores).
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two API instances and two worker instances on one private Redis."""
    with running_cluster(tmp_path, CONFIG, ("api", "api", "worker", "worker"), prefix="t") as cluster:
        yield cluster


async def call(method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as response:
        return response.status, await response.json()


async def start(api: Reachable, endpoint: str, payload: dict[str, Any]) -> str:
    status, data = await call("POST", f"{api.url}/api/v1/jobs/start", json={"endpoint": endpoint, "payload": payload})
    assert status == 202, data
    job_id: str = data["jobId"]
    return job_id


async def wait_status(api: Reachable, job_id: str, done: Any, timeout: float = 20) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        nonlocal last
        status, last = await call("GET", f"{api.url}/api/v1/jobs/{job_id}/status")
        return last if status == 200 and done(last) else None

    return await wait_until_async(reached, timeout, lambda: f"job {job_id}; last answer {last}", interval=0.05)


def finished(data: dict[str, Any]) -> bool:
    return data["status"] not in ("pending", "running")


async def test_a_job_started_on_one_api_is_followed_and_collected_on_the_other(cluster: Cluster) -> None:
    first, second = cluster.apis
    job_id = await start(first, "/api/v1/demo/sleep", {"seconds": 0.6, "steps": 3})
    running = await wait_status(second, job_id, lambda d: d["status"] == "running")
    assert running["jobId"] == job_id
    status, changed = await call("GET", f"{second.url}/api/v1/jobs/{job_id}/status?wait=5")
    assert status == 200 and changed["progress"] >= running["progress"]
    await wait_status(second, job_id, finished)
    status, result = await call("GET", f"{second.url}/api/v1/jobs/{job_id}/result")
    assert status == 200 and result["data"]["message"] == "Slept 0.6 s"
    status, again = await call("GET", f"{first.url}/api/v1/jobs/{job_id}/result")
    assert status == 200 and again == result, "the retry grace holds across instances"


async def test_an_event_stream_on_one_api_follows_a_job_run_for_the_other(cluster: Cluster) -> None:
    first, second = cluster.apis
    # 0.4 s between changes, so that a loaded machine does not merge them (see test_watching.py).
    job_id = await start(first, "/api/v1/demo/sleep", {"seconds": 1.6, "steps": 4})
    events = []
    async with aiohttp.ClientSession() as session, session.get(f"{second.url}/api/v1/jobs/{job_id}/events") as stream:
        async for line in stream.content:
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
    progress = [event["progress"] for event in events]
    assert events[-1]["status"] == "completed"
    assert progress == sorted(progress) and len(set(progress)) >= 3, progress


async def test_cancel_through_the_other_api_kills_the_worker_process_on_its_instance(cluster: Cluster) -> None:
    first, second = cluster.apis
    job_id = await start(first, "/api/v1/demo/sleep", {"seconds": 30, "steps": 1})
    running = await wait_status(second, job_id, lambda d: d["message"].startswith("pid "))
    pid = int(running["message"].split()[1])
    status, _ = await call("DELETE", f"{second.url}/api/v1/jobs/{job_id}")
    assert status == 200
    await wait_process_gone(pid)
    status, _ = await call("GET", f"{first.url}/api/v1/jobs/{job_id}/status")
    assert status == 404


def instance_running(cluster: Cluster, job_id: str) -> Instance:
    """The worker instance whose log says it started the job."""
    for worker in cluster.workers:
        if any('"job.running"' in line and job_id in line for line in worker.logs().splitlines()):
            return worker
    raise AssertionError(f"no worker instance has started {job_id}")


async def kill_instance_running(cluster: Cluster, job_id: str) -> None:
    await wait_status(cluster.apis[0], job_id, lambda d: d["message"].startswith("pid "))
    victim = instance_running(cluster, job_id)
    victim.kill()


async def test_a_job_of_a_killed_worker_instance_fails_saying_the_worker_was_lost(cluster: Cluster) -> None:
    api = cluster.apis[0]
    job_id = await start(api, "/api/v1/demo/sleep", {"seconds": 60, "steps": 1})
    await kill_instance_running(cluster, job_id)
    began = time.monotonic()
    final = await wait_status(api, job_id, finished, timeout=30)
    assert final["status"] == "failed"
    assert "the worker running it was lost" in final["message"]
    assert time.monotonic() - began < 15, "detected within a few lease periods (lease_seconds = 2)"


async def test_a_job_with_retries_runs_again_on_another_instance(cluster: Cluster) -> None:
    api = cluster.apis[1]
    # Long enough to be seen running and killed there: a 1 s job once completed before the poll saw it.
    job_id = await start(api, "/api/v1/demo/sleep-retried", {"seconds": 4, "steps": 1})
    await kill_instance_running(cluster, job_id)
    final = await wait_status(api, job_id, finished, timeout=30)
    assert final["status"] == "completed"
    assert final["retry_count"] == 1


async def test_the_service_answers_503_while_redis_is_down_and_recovers_by_itself(cluster: Cluster) -> None:
    answers: list[tuple[int, str, float]] = []
    stop = asyncio.Event()

    async def keep_starting(api: Reachable) -> None:
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                began = time.monotonic()
                start_body = {"endpoint": "/api/v1/demo/echo", "payload": {}}
                async with session.post(f"{api.url}/api/v1/jobs/start", json=start_body) as response:
                    data = await response.json()
                answers.append((response.status, data.get("error", ""), time.monotonic() - began))
                await asyncio.sleep(0.02)  # pacing: a client starting a job every 20 ms, not a wait

    def accepted_since(start: int) -> bool:
        return any(code == 202 for code, _, _ in answers[start:])

    async def readiness() -> tuple[int, dict[str, Any]] | None:
        answer = await call("GET", f"{cluster.apis[0].url}/readyz")
        return answer if answer[0] == 503 else None

    load = [asyncio.create_task(keep_starting(api)) for api in cluster.apis]
    await wait_until_async(lambda: accepted_since(0), 10, "a job accepted before the outage")
    cluster.redis.stop()
    _, data = await wait_until_async(readiness, 10, "/readyz to report the outage")
    assert "store" in data["message"]
    await wait_until_async(lambda: any(code == 503 for code, _, _ in answers), 10, "a start refused during it")
    cluster.redis.start()
    back = len(answers)
    await wait_until_async(lambda: accepted_since(back), 15, "jobs accepted again after Redis came back")
    stop.set()
    await asyncio.gather(*load)
    assert {code for code, _, _ in answers} <= {202, 503}, "no other answer than accepted or unavailable"
    assert {error for code, error, _ in answers if code == 503} == {"store_unavailable"}
    assert any(code == 503 for code, _, _ in answers) and answers[-1][0] == 202, "down, then back"
    assert max(seconds for _, _, seconds in answers) < 5, "an outage answers promptly, never hangs"
    after = await start(cluster.apis[1], "/api/v1/demo/echo", {"after": "restart"})
    final = await wait_status(cluster.apis[0], after, finished, 30)
    assert final["status"] == "completed", "the workers took work again after Redis came back"


async def test_two_hundred_jobs_from_twenty_clients_are_all_accounted_for_and_none_ran_twice(
    cluster: Cluster,
) -> None:
    async def client(index: int) -> list[str]:
        api = cluster.apis[index % 2]
        return [await start(api, "/api/v1/demo/echo", {"client": index, "n": n}) for n in range(10)]

    job_ids = [job for jobs in await asyncio.gather(*(client(i) for i in range(20))) for job in jobs]
    assert len(set(job_ids)) == 200
    for job_id in job_ids:
        assert (await wait_status(cluster.apis[1], job_id, finished, 60))["status"] == "completed"
    runs: dict[str, int] = {}
    for worker in cluster.workers:
        for line in worker.logs().splitlines():
            if line.startswith("{") and '"job.running"' in line:
                job = json.loads(line)["job_id"]
                runs[job] = runs.get(job, 0) + 1
    assert set(runs) == set(job_ids)
    assert max(runs.values()) == 1, "a job ran twice"
    assert all(sum(1 for line in w.logs().splitlines() if '"job.running"' in line) > 0 for w in cluster.workers), (
        "both worker instances took work"
    )
