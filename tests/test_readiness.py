"""/readyz reports a partly broken pool: fewer live workers than configured for longer than a respawn
takes (here the forkserver is stopped, so the replacement of a killed worker cannot start)."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from jobs.readiness import RESPAWN_ALLOWANCE_SECONDS
from tests.process import run_server
from tests.waiting import wait_until_async

CONFIG = """
[server]
shutdown_grace_seconds = 1
[pool]
workers = 2
[endpoints]
"/api/v1/demo/echo" = "handlers.demo:echo"
"""


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/readyz") as response:
        return response.status, await response.json()


def workers_and_forkserver(server_pid: int) -> tuple[list[int], int]:
    """The pool's workers (server -> forkserver -> worker) and their forkserver."""
    for child in psutil.Process(server_pid).children():
        workers = [p.pid for p in child.children() if "docjobs-group-watch" not in " ".join(p.cmdline())]
        if workers:
            return workers, child.pid
    raise AssertionError("no forkserver with workers under the server")


async def test_readiness_reports_a_pool_left_short_of_workers_past_a_respawn(tmp_path: Path) -> None:
    with run_server(tmp_path, config=CONFIG) as server:
        status, data = await readiness(server.url)
        assert (status, data["workers"]) == (200, 2), data
        workers, forkserver = workers_and_forkserver(server.process.pid)
        os.kill(forkserver, signal.SIGSTOP)
        try:
            os.kill(workers[0], signal.SIGKILL)

            async def reported() -> dict[str, Any] | None:
                status, data = await readiness(server.url)
                return data if status == 503 else None

            data = await wait_until_async(reported, RESPAWN_ALLOWANCE_SECONDS + 15, "/readyz to report the pool")
            assert data["error"] == "not_ready"
            assert "only 1 of 2 worker processes live" in data["message"], data
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(forkserver, signal.SIGCONT)

        async def ready_again() -> bool:
            status, data = await readiness(server.url)
            return status == 200 and data["workers"] == 2

        await wait_until_async(ready_again, 20, "the replacement worker and readiness to come back")
