"""SIGTERM with the in-memory store: new jobs are refused, but status and results keep being answered
for the whole grace period, and pollers learn how the jobs that could not finish ended."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.process import run_server
from tests.waiting import wait_until_async

CONFIG = """
[server]
shutdown_grace_seconds = 3
[pool]
workers = 2
[jobs]
max_result_bytes = 1048576        # small results: each job reserves this of its client's share at admission
[endpoints]
"/api/v1/demo/sleep" = { handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep" }
"""


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def start(session: aiohttp.ClientSession, url: str, seconds: float) -> str:
    body = {"endpoint": "/api/v1/demo/sleep", "payload": {"seconds": seconds, "steps": 1}}
    async with session.post(f"{url}/api/v1/jobs/start", json=body) as response:
        assert response.status == 202
        job_id: str = (await response.json())["jobId"]
        return job_id


async def wait_status(session: aiohttp.ClientSession, url: str, job_id: str, wanted: set[str]) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        nonlocal last
        code, last = await get(session, f"{url}/api/v1/jobs/{job_id}/status")
        assert code == 200, last
        return last if last["status"] in wanted else None

    return await wait_until_async(reached, 20, lambda: f"job {job_id} to be {wanted}; last: {last}", interval=0.1)


async def test_after_sigterm_results_and_outcomes_are_still_answered(tmp_path: Path) -> None:
    with run_server(tmp_path, config=CONFIG) as server:
        async with aiohttp.ClientSession() as session:
            short = await start(session, server.url, 1)
            long = await start(session, server.url, 60)
            await wait_status(session, server.url, long, {"running"})
            server.process.send_signal(signal.SIGTERM)
            refused = {"endpoint": "/api/v1/demo/sleep", "payload": {"seconds": 0}}

            async def refusal() -> tuple[dict[str, Any], str] | None:
                async with session.post(f"{server.url}/api/v1/jobs/start", json=refused) as response:
                    if response.status != 503:
                        return None
                    return await response.json(), response.headers["Retry-After"]

            # The signal is handled at once, but not synchronously with its sending.
            answer, retry_after = await wait_until_async(refusal, 10, "new jobs to be refused", interval=0.05)
            assert answer["error"] == "shutting_down"
            assert int(retry_after) >= 1
            await wait_status(session, server.url, short, {"completed"})
            code, result = await get(session, f"{server.url}/api/v1/jobs/{short}/result")
            assert code == 200 and result["success"] is True
            stopped = await wait_status(session, server.url, long, {"failed"})
            assert "shut down" in stopped["message"]
        assert server.process.wait(timeout=30) == 0


IDLE_CONFIG = CONFIG.replace("shutdown_grace_seconds = 3", "shutdown_grace_seconds = 60")


async def test_an_idle_instance_stops_soon_after_sigterm_whatever_its_grace(tmp_path: Path) -> None:
    # Seen in CI: every idle server took its whole grace (30 s by default) to stop, since the drain
    # kept answering for the full period even with nothing left to fetch.
    with run_server(tmp_path, config=IDLE_CONFIG) as server:
        async with aiohttp.ClientSession() as session:
            done = await start(session, server.url, 0)
            await wait_status(session, server.url, done, {"completed"})
            code, _ = await get(session, f"{server.url}/api/v1/jobs/{done}/result")
            assert code == 200
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert time.monotonic() - began < 20, "an idle instance waited out its 60 s grace"


async def test_a_result_that_completes_during_the_drain_keeps_the_instance_answering(tmp_path: Path) -> None:
    with run_server(tmp_path, config=IDLE_CONFIG) as server:
        async with aiohttp.ClientSession() as session:
            job = await start(session, server.url, 3)
            await wait_status(session, server.url, job, {"running"})
            server.process.send_signal(signal.SIGTERM)
            await wait_status(session, server.url, job, {"completed"})
            # Unfetched, it holds the instance open past the short margin for idle instances.
            await asyncio.sleep(4)  # longer than LAST_ANSWERS_SECONDS: the behaviour under test is time passing
            code, result = await get(session, f"{server.url}/api/v1/jobs/{job}/result")
            assert code == 200 and result["success"] is True
        assert server.process.wait(timeout=30) == 0
