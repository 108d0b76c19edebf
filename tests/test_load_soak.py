"""Load and soak: 2,000 jobs from 50 concurrent clients against `python server.py`, then nothing is left over.

Every accepted job must end in the state its kind calls for (completed, failed, expired or deleted),
no answer may be a 5xx other than a deliberate 503 (queue_full or store_full), and after cleanup the
store must be empty and the server's memory back near where it was after warm-up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from tests.process import ServerProcess, run_server
from tests.waiting import wait_until_async

pytestmark = pytest.mark.slow

KEYS = {f"client{i}": f"soak-key-{i}-0123456789abcdef" for i in range(4)}
ADMIN_KEY = "soak-admin-0123456789abcdef"
CLIENTS = 50
SEED = 7
# Resident memory may wander this much after the run: allocator arenas, caches sized by the peak
# (aiohttp's, the estimator's), and the page granularity of RSS. A leak of one job record per job
# (payload + result + bookkeeping, a few KiB) would be 2,000 x a few KiB: well over it.
RSS_MARGIN_BYTES = 25 * 1024 * 1024

CONFIG = f"""
[server]
shutdown_grace_seconds = 1

[pool]
workers = 2

[jobs]
per_client_limit = 100
max_watches_per_client = 100
retention_seconds = 1
result_grace_seconds = 1
cleanup_interval_seconds = 1
max_result_bytes = 1048576        # small results: each job reserves this of its client's share at admission

[auth]
keys = {{ {", ".join(f'{name} = "{key}"' for name, key in KEYS.items())}, admin = "{ADMIN_KEY}" }}
admin = ["admin"]

[endpoints]
"/api/v1/demo/echo" = "handlers.demo:echo"
"/api/v1/demo/cpu" = "tests.fault_handlers:burn_cpu"
"/api/v1/demo/fail" = "tests.fault_handlers:fail"
"/api/v1/demo/crash" = "tests.fault_handlers:crash"
"/api/v1/demo/quick-timeout" = {{ handler = "tests.fault_handlers:burn_cpu", timeout_seconds = 1 }}
"""


class Kind(StrEnum):
    """What a planned job does, and so how it must end."""

    ECHO = "echo"  # completes at once
    CPU = "cpu"  # burns 20 ms of CPU, completes
    FAIL = "fail"  # raises: failed
    CRASH = "crash"  # kills its worker: failed
    TIMEOUT = "timeout"  # burns 5 s against a 1 s limit: expired
    DELETE_EARLY = "delete_early"  # deleted straight after it is accepted, whatever its state
    DELETE_LATE = "delete_late"  # deleted once finished, without fetching the result


ENDPOINT_AND_PAYLOAD: dict[Kind, tuple[str, dict[str, Any]]] = {
    Kind.ECHO: ("/api/v1/demo/echo", {"n": 0}),
    Kind.CPU: ("/api/v1/demo/cpu", {"milliseconds": 20, "report_pid": False}),
    Kind.FAIL: ("/api/v1/demo/fail", {"message": "planned failure"}),
    Kind.CRASH: ("/api/v1/demo/crash", {"delay": 0.0}),
    Kind.TIMEOUT: ("/api/v1/demo/quick-timeout", {"milliseconds": 5000, "report_pid": False}),
    Kind.DELETE_EARLY: ("/api/v1/demo/cpu", {"milliseconds": 20, "report_pid": False}),
    Kind.DELETE_LATE: ("/api/v1/demo/echo", {"n": 0}),
}
EXPECTED_FINAL = {
    Kind.ECHO: "completed",
    Kind.CPU: "completed",
    Kind.FAIL: "failed",
    Kind.CRASH: "failed",
    Kind.TIMEOUT: "expired",
    Kind.DELETE_EARLY: "deleted",
    Kind.DELETE_LATE: "deleted",
}
# Of 2,000: few timeouts (each holds a worker for its full second) and few crashes (each costs a respawn).
PLAN = {Kind.CPU: 500, Kind.FAIL: 200, Kind.CRASH: 40, Kind.TIMEOUT: 6, Kind.DELETE_EARLY: 60, Kind.DELETE_LATE: 60}
TOTAL_JOBS = 2000
DELIBERATE_503 = ("queue_full", "store_full")


def plan_jobs(total: int, seed: int) -> list[Kind]:
    """The kinds of `total` jobs in a fixed shuffled order, echo for whatever the plan leaves."""
    kinds = [kind for kind, count in PLAN.items() for _ in range(count)]
    kinds += [Kind.ECHO] * (total - len(kinds))
    random.Random(seed).shuffle(kinds)
    return kinds


@dataclass
class Tally:
    """What the clients saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    refused_503: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, Kind] = field(default_factory=dict)
    final: dict[str, str] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    status_polls: int = 0


class Client:
    """One of the concurrent clients: its own connection pool, one of the keys."""

    def __init__(self, url: str, key: str, tally: Tally) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.tally = tally
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.request(method, self.url + path, headers=self.headers, **kw) as response:
            data: dict[str, Any] = await response.json()
        self.tally.statuses[response.status] += 1
        if response.status >= 500:
            if response.status == 503 and data.get("error") in DELIBERATE_503:
                self.tally.refused_503[data["error"]] += 1
            else:
                self.tally.server_errors.append(f"{method} {path}: {response.status} {data}")
        return response.status, data

    async def run(self, queue: asyncio.Queue[Kind]) -> None:
        while not queue.empty():
            await self.run_job(queue.get_nowait())

    async def run_job(self, kind: Kind) -> None:
        endpoint, payload = ENDPOINT_AND_PAYLOAD[kind]
        while True:
            status, data = await self.request(
                "POST", "/api/v1/jobs/start", json={"endpoint": endpoint, "payload": payload}
            )
            if status == 202:
                break
            assert status in (429, 503), (status, data)
            await asyncio.sleep(0.2)  # refused for now (a limit): the job is not accepted yet, try again
        job_id = data["jobId"]
        self.tally.accepted[job_id] = kind
        if kind is Kind.DELETE_EARLY:
            await self.delete(job_id)
            return
        state = await self.wait_finished(job_id)
        if kind is Kind.DELETE_LATE:
            await self.delete(job_id)
            return
        await self.collect(job_id, kind, state)

    async def wait_finished(self, job_id: str) -> str:
        while True:
            self.tally.status_polls += 1
            status, data = await self.request("GET", f"/api/v1/jobs/{job_id}/status?wait=5")
            assert status == 200, (status, data)
            if data["status"] not in ("pending", "running"):
                return str(data["status"])

    async def delete(self, job_id: str) -> None:
        status, data = await self.request("DELETE", f"/api/v1/jobs/{job_id}")
        gone, _ = await self.request("GET", f"/api/v1/jobs/{job_id}/status")
        if status == 200 and gone == 404:
            self.tally.final[job_id] = "deleted"
        else:
            self.tally.wrong.append(f"{job_id}: delete {status} {data}, then status {gone}")

    async def collect(self, job_id: str, kind: Kind, state: str) -> None:
        status, data = await self.request("GET", f"/api/v1/jobs/{job_id}/result")
        expected_http = {"completed": 200, "failed": 422, "expired": 410}.get(state)
        self.tally.final[job_id] = state
        if status != expected_http:
            self.tally.wrong.append(f"{job_id} ({kind}): {state} but result answered {status} {data}")
        elif kind is Kind.ECHO and data["data"]["data"] != ENDPOINT_AND_PAYLOAD[kind][1]:
            self.tally.wrong.append(f"{job_id}: echoed {data['data']}")

    async def close(self) -> None:
        await self.session.close()


async def drive(url: str, total: int, seed: int) -> tuple[Tally, float]:
    """Run `total` planned jobs through CLIENTS concurrent clients; the tally and the seconds taken."""
    tally = Tally()
    queue: asyncio.Queue[Kind] = asyncio.Queue()
    for kind in plan_jobs(total, seed):
        queue.put_nowait(kind)
    keys = list(KEYS.values())
    clients = [Client(url, keys[i % len(keys)], tally) for i in range(CLIENTS)]
    began = time.monotonic()
    try:
        await asyncio.gather(*(client.run(queue) for client in clients))
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return tally, time.monotonic() - began


async def admin_stats(url: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with aiohttp.ClientSession() as session, session.get(f"{url}/api/v1/jobs/stats", headers=headers) as r:
        assert r.status == 200
        stats: dict[str, Any] = (await r.json())["stats"]
        return stats


async def wait_until_store_empty(url: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the admin stats until cleanup has removed every job and result."""
    last: dict[str, Any] = {}

    async def empty() -> dict[str, Any] | None:
        nonlocal last
        last = await admin_stats(url)
        return last if last["total_jobs"] == 0 and last["memory"]["store_result_bytes"] == 0 else None

    return await wait_until_async(empty, timeout, lambda: f"cleanup to empty the store: {last}", interval=0.5)


def settled_rss(pid: int) -> int:
    """The server's resident memory, as the lowest of a few samples a moment apart."""
    samples: list[int] = []
    for _ in range(5):
        samples.append(int(psutil.Process(pid).memory_info().rss))
        time.sleep(0.2)  # spacing the samples of a measurement, not waiting for something to happen
    return min(samples)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with run_server(tmp_path, config=CONFIG) as running:
        yield running


def check(tally: Tally) -> None:
    """Every accepted job accounted for, in the state its kind calls for; no unexpected 5xx."""
    assert not tally.server_errors, tally.server_errors[:10]
    assert not tally.wrong, tally.wrong[:10]
    assert set(tally.final) == set(tally.accepted), "some accepted jobs were never accounted for"
    mismatched = [
        (job_id, kind, tally.final[job_id])
        for job_id, kind in tally.accepted.items()
        if tally.final[job_id] != EXPECTED_FINAL[kind]
    ]
    assert not mismatched, mismatched[:10]


@pytest.mark.timeout(240)  # a soak: two runs of 2,000 + 300 jobs, about a minute alone, far more on a loaded CI
async def test_2000_jobs_from_50_clients_are_all_accounted_for_and_leave_nothing_behind(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = server.process.pid
    warm_up, _ = await drive(server.url, 300, seed=SEED + 1)  # fills caches, pools and allocator arenas
    check(warm_up)
    await wait_until_store_empty(server.url)
    rss_before = settled_rss(pid)

    tally, seconds = await drive(server.url, TOTAL_JOBS, seed=SEED)
    check(tally)
    assert len(tally.accepted) == TOTAL_JOBS
    stats = await wait_until_store_empty(server.url)
    rss_after = settled_rss(pid)

    by_state = Counter(tally.final.values())
    by_kind = Counter(tally.accepted.values())
    figures = [
        f"jobs: {TOTAL_JOBS} from {CLIENTS} clients on {len(KEYS)} keys, 2 workers, in {seconds:.1f} s "
        f"({TOTAL_JOBS / seconds:.0f} jobs/s)",
        "by kind: " + ", ".join(f"{kind} {by_kind[kind]}" for kind in Kind),
        "final states: " + ", ".join(f"{state} {count}" for state, count in sorted(by_state.items())),
        f"status polls (?wait=5): {tally.status_polls}; answers by HTTP status: {dict(sorted(tally.statuses.items()))}",
        f"deliberate 503s: {dict(tally.refused_503) or 0}; other 5xx: {len(tally.server_errors)}",
        f"after cleanup: total_jobs {stats['total_jobs']}, store_result_bytes {stats['memory']['store_result_bytes']}",
        f"server RSS after warm-up {rss_before / 1048576:.1f} MiB, after the run and cleanup "
        f"{rss_after / 1048576:.1f} MiB ({(rss_after - rss_before) / 1048576:+.1f} MiB; margin "
        f"{RSS_MARGIN_BYTES / 1048576:.0f} MiB)",
    ]
    with capsys.disabled():
        print("\nload and soak:\n  " + "\n  ".join(figures))
    assert rss_after - rss_before < RSS_MARGIN_BYTES, figures[-1]
