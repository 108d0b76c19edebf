"""A real server for the memory tests, and how they read its resident memory."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import aiohttp
import psutil

MIB = 1024 * 1024


def rss(pid: int) -> int:
    """The process's resident memory now."""
    return int(psutil.Process(pid).memory_info().rss)


async def settled_rss(pid: int) -> int:
    """The lowest of a few samples a moment apart (RSS wanders while a sweep or a GC runs)."""
    samples = []
    for _ in range(5):
        samples.append(rss(pid))
        await asyncio.sleep(0.1)  # sampling over time is the measurement, not a wait for an event
    return min(samples)


async def start(session: aiohttp.ClientSession, url: str, body: bytes) -> str:
    """POST a prepared JSON body to /jobs/start; the job id."""
    async with session.post(
        f"{url}/api/v1/jobs/start", data=io.BytesIO(body), headers={"Content-Type": "application/json"}
    ) as response:
        data: dict[str, Any] = await response.json()
        assert response.status == 202, data
        job_id: str = data["jobId"]
        return job_id


async def wait_final(session: aiohttp.ClientSession, url: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """Long-poll the job's status until it is final; its last status body."""
    deadline = time.monotonic() + timeout
    since = ""
    while time.monotonic() < deadline:
        query = f"?wait=5&since={since}" if since else "?wait=5"
        async with session.get(f"{url}/api/v1/jobs/{job_id}/status{query}") as response:
            data: dict[str, Any] = await response.json()
        if data.get("status") not in ("pending", "running"):
            return data
        since = data["updated_at"]
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


async def wait_rss_below(pid: int, bound: int, timeout: float) -> int:
    """Wait (for sweeps to run) until the settled RSS is under `bound`; the last settled RSS."""
    deadline = time.monotonic() + timeout
    while True:
        now = await settled_rss(pid)
        if now < bound or time.monotonic() >= deadline:
            return now
