"""Memory of the API process and the workers for the cases of issue 12, on a real server.

1. payloads: 40 starts of a 31 MiB failing extract payload from one client (4 in flight);
2. stalled readers: 20 connections request a ~53 MiB result and do not read, then all read it;
3. results: three ~53 MiB results held, fetched, then past their grace (1 s here);
4. loop stall: the longest event-loop stall seen by a 1 ms ticker while bodies are parsed, inline
   (json.loads) against the service's parse (a thread with a GIL-yielding hook), in this process.

Prints peak and settled RSS of the server and of its workers (sampled every 50 ms), and ratios to the
server's baseline measured in the same run. With `--store redis` the server runs on a private
redis-server (started on a free loopback port), whose RSS is printed too: the results live there.

Usage: .venv/bin/python bench/bench_memory.py [--case payloads|readers|results|stall|all] [--store memory|redis]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.api.requests import parse_json  # noqa: E402
from tests.memory.helpers import MIB, settled_rss, start, wait_final  # noqa: E402
from tests.process import run_server  # noqa: E402
from tests.store.redis_server import running_redis  # noqa: E402

CONFIG = """
[server]
shutdown_grace_seconds = 1
[pool]
workers = 2
[jobs]
per_client_limit = 50
max_watches_per_client = 50
retention_seconds = {retention}
result_grace_seconds = {grace}
cleanup_interval_seconds = 1
max_client_payload_bytes = 134217728  # the 4 lanes' 31 MiB payloads fit one client's share ...
max_client_result_bytes = 268435456   # ... and so do their 64 MiB result reservations
[endpoints]
"/api/v1/extract" = { handler = "handlers.extract:extract", validator = "handlers.extract:validate" }
"/api/v1/demo/big-result" = "tests.fault_handlers:big_result"
"""


class Sampler:
    """Peak RSS of the server and of its workers (and of redis-server, if any), sampled in the background."""

    def __init__(self, pid: int, redis_pid: int | None) -> None:
        self.server = psutil.Process(pid)
        self.redis_pid = redis_pid
        self.peak_server = self.peak_workers = self.peak_redis = 0
        self._task: asyncio.Task[None] | None = None

    def workers_rss(self) -> int:
        """RSS of every process the server started: its workers, and multiprocessing's helpers."""
        total = 0
        for child in self.server.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        return total

    async def _run(self) -> None:
        while True:
            self.peak_server = max(self.peak_server, self.server.memory_info().rss)
            self.peak_workers = max(self.peak_workers, self.workers_rss())
            if self.redis_pid is not None:
                self.peak_redis = max(self.peak_redis, psutil.Process(self.redis_pid).memory_info().rss)
            await asyncio.sleep(0.05)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


def report(name: str, baseline: int, sampler: Sampler, settled: int) -> None:
    print(
        f"{name}: server baseline {baseline / MIB:.0f} MiB, peak {sampler.peak_server / MIB:.0f} MiB "
        f"({sampler.peak_server / baseline:.2f}x), settled {settled / MIB:.0f} MiB ({settled / baseline:.2f}x); "
        f"child processes (workers and helpers) peak {sampler.peak_workers / MIB:.0f} MiB together"
        + (f"; redis-server peak {sampler.peak_redis / MIB:.0f} MiB" if sampler.redis_pid else "")
    )


async def payloads(url: str, pid: int, redis_pid: int | None) -> None:
    body = json.dumps({"endpoint": "/api/v1/extract", "payload": {"excel_base64": "QUJD" * (31 * MIB // 4)}}).encode()
    async with aiohttp.ClientSession() as session:
        baseline = await settled_rss(pid)
        with Sampler(pid, redis_pid) as sampler:

            async def lane() -> None:
                for _ in range(10):
                    await wait_final(session, url, await start(session, url, body))

            began = time.monotonic()
            await asyncio.gather(*(lane() for _ in range(4)))
            elapsed = time.monotonic() - began
            await asyncio.sleep(4)  # retention 2 s, sweeps every 1 s: the records are gone
            settled = await settled_rss(pid)
        report(f"40 x 31 MiB failing payloads ({elapsed:.1f} s)", baseline, sampler, settled)


async def readers(url: str, pid: int, redis_pid: int | None) -> None:
    body = json.dumps({"endpoint": "/api/v1/demo/big-result", "payload": {"rows": 500_000, "width": 100}}).encode()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        baseline = await settled_rss(pid)
        with Sampler(pid, redis_pid) as sampler:
            job_id = await start(session, url, body)
            await wait_final(session, url, job_id)
            held = await settled_rss(pid)
            result_url = f"{url}/api/v1/jobs/{job_id}/result"
            with Sampler(pid, redis_pid) as stalled:
                responses = await asyncio.gather(*(session.get(result_url) for _ in range(20)))
                size = int(responses[0].headers["Content-Length"])
                await asyncio.sleep(1)
            began = time.monotonic()
            for response in responses:
                await response.read()
                response.release()
            read_seconds = time.monotonic() - began
            settled = await settled_rss(pid)
        print(
            f"20 stalled readers of a {size / MIB:.0f} MiB result: server with the result held {held / MIB:.0f} MiB, "
            f"peak while they stall {stalled.peak_server / MIB:.0f} MiB "
            f"(baseline + {(stalled.peak_server - baseline) / size:.2f}x the result); "
            f"all 20 read in {read_seconds:.1f} s"
        )
        report("stalled readers", baseline, sampler, settled)


async def results(url: str, pid: int, redis_pid: int | None) -> None:
    body = json.dumps({"endpoint": "/api/v1/demo/big-result", "payload": {"rows": 500_000, "width": 100}}).encode()
    async with aiohttp.ClientSession() as session:
        baseline = await settled_rss(pid)
        with Sampler(pid, redis_pid) as sampler:
            job_ids = [await start(session, url, body) for _ in range(3)]
            for job_id in job_ids:
                await wait_final(session, url, job_id)
            held = await settled_rss(pid)
            for job_id in job_ids:
                async with session.get(f"{url}/api/v1/jobs/{job_id}/result") as response:
                    await response.read()
            await asyncio.sleep(4)  # grace 1 s, sweeps every 1 s: the results are gone
            settled = await settled_rss(pid)
        print(f"three results: server with them held {held / MIB:.0f} MiB")
        report("three results fetched and past their grace", baseline, sampler, settled)


async def worst_stall(parse: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    worst, done = 0.0, False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst, last = max(worst, now - last), now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    began = time.perf_counter()
    await parse()
    elapsed = time.perf_counter() - began
    done = True
    await task
    return worst, elapsed


async def stall() -> None:
    bodies = {
        "25 MiB base64 string": json.dumps({"payload": {"excel_base64": "QUJD" * (25 * MIB // 4)}}).encode(),
        "about 25 MiB of 1.3 M small objects": json.dumps(
            {"payload": {"sheets": [{"n": f"s{i}"} for i in range(1_300_000)]}}
        ).encode(),
    }
    for name, raw in bodies.items():

        async def inline(raw: bytes = raw) -> Any:
            return parse_json(raw)

        async def threaded(raw: bytes = raw) -> Any:
            return await asyncio.to_thread(parse_json, raw, yielding=True)

        before, before_total = await worst_stall(inline)
        after, after_total = await worst_stall(threaded)
        print(
            f"{name}: loop stall inline {before * 1000:.0f} ms (parse {before_total * 1000:.0f} ms), "
            f"threaded+hook {after * 1000:.0f} ms (parse {after_total * 1000:.0f} ms)"
        )


Case = Callable[[str, int, int | None], Awaitable[None]]  # (server url, server pid, redis-server pid)
CASES: dict[str, Case] = {"payloads": payloads, "readers": readers, "results": results}


async def main(case: str, store: str) -> None:
    if case in ("stall", "all"):
        await stall()
    for name, run in CASES.items():
        if case in (name, "all"):
            with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
                env, redis_pid = {}, None
                if store == "redis":
                    redis = stack.enter_context(running_redis(Path(tmp)))
                    env = {"DOCJOBS_STORE_BACKEND": "redis", "DOCJOBS_STORE_URL": redis.url}
                    redis_pid = redis.process.pid if redis.process else None
                # The payloads case waits for its records to go (2 s retention); a result outlives its reads.
                config = CONFIG.replace("{grace}", "1" if name == "results" else "30")
                config = config.replace("{retention}", "2" if name == "payloads" else "60")
                server = stack.enter_context(run_server(Path(tmp), config=config, env=env))
                print(f"--- {name}, {store} store")
                await run(server.url, server.process.pid, redis_pid)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=(*CASES, "stall", "all"), default="all")
    parser.add_argument("--store", choices=("memory", "redis"), default="memory")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.case, arguments.store))
