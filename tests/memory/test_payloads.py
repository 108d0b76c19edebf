"""Payloads do not pile up in the API process: a finished job's payload is dropped at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.memory.helpers import MIB, settled_rss, start, wait_final, wait_rss_below
from tests.process import run_server

pytestmark = pytest.mark.slow

CONFIG = """
[server]
shutdown_grace_seconds = 1

[pool]
workers = 2

[jobs]
retention_seconds = 2
result_grace_seconds = 1
cleanup_interval_seconds = 1
max_client_payload_bytes = 134217728  # four 32 MiB bodies in flight from one client ...
max_client_result_bytes = 268435456   # ... each reserving a 64 MiB result

[endpoints]
"/api/v1/extract" = { handler = "handlers.extract:extract", validator = "handlers.extract:validate" }
"""
STARTS = 40
LANES = 4  # jobs in flight at once, under the per-client limit of 10
PAYLOAD_BYTES = 31 * MIB
# While jobs run, each lane holds its request's body, its text and its parsed payload (about 3 x 31 MiB);
# once every job has ended none of that may stay: before the fix, 40 payloads were 1.2 GiB.
AFTER_JOBS_MARGIN = 160 * MIB
# After the sweep (and malloc_trim) the server is back near its start: aiohttp's and the allocator's
# caches sized by the peak are all that may remain.
AFTER_CLEANUP_MARGIN = 64 * MIB


def garbage_body() -> bytes:
    """A start request whose 31 MiB of base64 is not a workbook: the job fails in its worker."""
    blob = "QUJD" * (PAYLOAD_BYTES // 4)
    return json.dumps({"endpoint": "/api/v1/extract", "payload": {"excel_base64": blob}}).encode()


@pytest.mark.timeout(180)
async def test_40_large_failing_payloads_leave_the_server_rss_near_its_start(tmp_path: Path) -> None:
    body = garbage_body()
    with run_server(tmp_path, config=CONFIG) as server:
        pid = server.process.pid
        async with aiohttp.ClientSession() as session:
            baseline = await settled_rss(pid)

            async def lane(count: int) -> list[str]:
                messages = []
                for _ in range(count):
                    job_id = await start(session, server.url, body)
                    status = await wait_final(session, server.url, job_id)
                    assert status["status"] == "failed", status
                    messages.append(status["message"])
                return messages

            results = await asyncio.gather(*(lane(STARTS // LANES) for _ in range(LANES)))
            messages = [m for lane_messages in results for m in lane_messages]
            assert len(messages) == STARTS
            assert all(len(m) <= 300 for m in messages), max(messages, key=len)
            after_jobs = await settled_rss(pid)
            cleaned = await wait_rss_below(pid, baseline + AFTER_CLEANUP_MARGIN, timeout=20)
        print(
            f"server RSS: start {baseline / MIB:.0f} MiB, after {STARTS} jobs {after_jobs / MIB:.0f} MiB, "
            f"after cleanup {cleaned / MIB:.0f} MiB"
        )
        assert after_jobs < baseline + AFTER_JOBS_MARGIN
        assert cleaned < baseline + AFTER_CLEANUP_MARGIN
