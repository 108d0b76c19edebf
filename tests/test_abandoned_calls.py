"""A client that hangs up gives back what it held, on a live server.py: a direct call's job and worker,
a long poll's or an event stream's watch slot."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import pid_from_message, wait_process_gone
from tests.process import ServerProcess, run_server
from tests.test_slow_clients import port_of

CONFIG = """
[server]
use_uvloop = true

[pool]
workers = 1

[jobs]
max_watches_per_client = 1

[endpoints]
"/api/v1/demo/sleep" = { handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep" }
"/api/v1/demo/echo" = "handlers.demo:echo"
"""
LONG_SLEEP = {"seconds": 60, "steps": 1}
DEADLINE = 10.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with run_server(tmp_path, config=CONFIG) as running:
        yield running


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def the_only_job(session: aiohttp.ClientSession, server: ServerProcess, status: str) -> dict[str, Any]:
    """Wait until the service holds exactly one job, in `status` (with a progress message)."""
    until = time.monotonic() + DEADLINE
    while True:
        _, listed = await get_json(session, f"{server.url}/api/v1/jobs")
        jobs: list[dict[str, Any]] = listed["jobs"]
        if len(jobs) == 1 and jobs[0]["status"] == status and jobs[0].get("message"):
            return jobs[0]
        assert time.monotonic() < until, listed
        await asyncio.sleep(0.05)


async def start_sleep(session: aiohttp.ClientSession, server: ServerProcess) -> str:
    start = {"endpoint": "/api/v1/demo/sleep", "payload": LONG_SLEEP}
    async with session.post(f"{server.url}/api/v1/jobs/start", json=start) as response:
        assert response.status == 202
        job_id: str = (await response.json())["jobId"]
    await the_only_job(session, server, "running")
    return job_id


async def test_a_direct_call_whose_client_hangs_up_cancels_its_job_and_frees_the_worker(
    server: ServerProcess,
) -> None:
    async with aiohttp.ClientSession() as session:
        call = asyncio.create_task(session.post(f"{server.url}/api/v1/demo/sleep", json=LONG_SLEEP))
        running = await the_only_job(session, server, "running")
        call.cancel()  # the client hangs up mid-call
        with contextlib.suppress(asyncio.CancelledError):
            await call
        until = time.monotonic() + DEADLINE
        while (await get_json(session, f"{server.url}/api/v1/jobs"))[1]["jobs"]:
            assert time.monotonic() < until, "the abandoned call's job is still held"
            await asyncio.sleep(0.05)
        # The only worker is free again: an echo is answered long before the 60 s sleep would end.
        timeout = aiohttp.ClientTimeout(total=DEADLINE)
        async with session.post(f"{server.url}/api/v1/demo/echo", json={"x": 1}, timeout=timeout) as echoed:
            assert echoed.status == 200
    await wait_process_gone(pid_from_message(running["message"]))  # its worker was stopped, not left to finish


async def test_a_long_poll_whose_client_left_releases_its_watch_slot(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        job_id = await start_sleep(session, server)
        probe = f"{server.url}/api/v1/jobs/{job_id}/status?wait=0.001"
        writer = await long_poll_holding_the_slot(session, server, job_id, probe)
        writer.close()  # gone, 30 s before its wait would end
        await wait_until_admitted(session, probe)


async def long_poll_holding_the_slot(
    session: aiohttp.ClientSession, server: ServerProcess, job_id: str, probe: str
) -> asyncio.StreamWriter:
    """A raw long poll (wait=30) that holds the client's one watch slot: the probe is refused.

    The probe is a watch too: when it holds the slot as the long poll arrives, the long poll is the one
    refused (it is answered at once, 429), and it is sent again on a new connection.
    """
    until = time.monotonic() + DEADLINE
    while True:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(f"GET /api/v1/jobs/{job_id}/status?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        while True:
            if (await get_json(session, probe))[0] == 429:
                return writer
            if await answered(reader):
                writer.close()
                break
            assert time.monotonic() < until, "the long poll never took its slot"


async def answered(reader: asyncio.StreamReader) -> bool:
    """Whether the server has answered (a long poll of 30 s is answered at once only when refused)."""
    try:
        return bool(await asyncio.wait_for(reader.read(1), 0.01))
    except TimeoutError:
        return False


async def test_an_event_stream_whose_client_left_releases_its_watch_slot(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        job_id = await start_sleep(session, server)
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(f"GET /api/v1/jobs/{job_id}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\n\n"), DEADLINE)
        assert b"200 OK" in first and b"event: status" in first
        writer.close()  # gone, long before the stream's next heartbeat (15 s)
        await wait_until_admitted(session, f"{server.url}/api/v1/jobs/{job_id}/status?wait=0.1")


async def wait_until_admitted(session: aiohttp.ClientSession, url: str) -> None:
    until = time.monotonic() + DEADLINE
    while True:
        status, data = await get_json(session, url)
        if status == 200:
            return
        assert status == 429 and data["error"] == "too_many_watches", data
        assert time.monotonic() < until, "the watch slot of a client that left was never released"
        await asyncio.sleep(0.05)
