"""A held result is served from its stored bytes: readers that stall cost no copies of it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.memory.helpers import MIB, rss, settled_rss, start, wait_final, wait_rss_below
from tests.process import ServerProcess, run_server
from tests.store.redis_server import running_redis
from tests.waiting import wait_until_async

pytestmark = pytest.mark.slow

CONFIG = """
[server]
shutdown_grace_seconds = 1

[pool]
workers = 1

[jobs]
per_client_limit = 50
max_watches_per_client = 50
result_grace_seconds = {grace}
cleanup_interval_seconds = 1
max_client_result_bytes = 268435456  # three 64 MiB reservations (max_result_bytes) fit one client

[endpoints]
"/api/v1/demo/big-result" = "tests.fault_handlers:big_result"
"""
READERS = 20
ROWS, WIDTH = 500_000, 100  # about 56 MB of JSON
RESULT_BYTES = ROWS * (8 + WIDTH + 3)


# After three 56 MB results were fetched and their grace ended, the server is back near its start.
AFTER_GRACE_MARGIN = 64 * MIB


@contextmanager
def serving(tmp_path: Path, store: str, grace: float = 60) -> Iterator[ServerProcess]:
    """The server on the memory store, or on a private redis-server of its own."""
    with ExitStack() as stack:
        env = {}
        if store == "redis":
            redis = stack.enter_context(running_redis(tmp_path))
            env = {"DOCJOBS_STORE_BACKEND": "redis", "DOCJOBS_STORE_URL": redis.url}
        yield stack.enter_context(run_server(tmp_path, config=CONFIG.format(grace=grace), env=env))


async def sha256_of(response: aiohttp.ClientResponse) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    async for chunk in response.content.iter_chunked(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@pytest.mark.timeout(120)
@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_20_stalled_readers_of_a_56_mb_result_cost_no_copies_and_each_reads_it_whole(
    tmp_path: Path, store: str
) -> None:
    body = json.dumps({"endpoint": "/api/v1/demo/big-result", "payload": {"rows": ROWS, "width": WIDTH}}).encode()
    with serving(tmp_path, store) as server:
        pid = server.process.pid
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            baseline = await settled_rss(pid)
            job_id = await start(session, server.url, body)
            assert (await wait_final(session, server.url, job_id))["status"] == "completed"
            url = f"{server.url}/api/v1/jobs/{job_id}/result"
            # Each reader gets the status and headers (so the server is writing its answer), then stalls.
            responses = await asyncio.gather(*(session.get(url) for _ in range(READERS)))
            assert all(r.status == 200 for r in responses)
            size = int(responses[0].headers["Content-Length"])
            assert size > RESULT_BYTES
            peak = 0
            for _ in range(10):
                peak = max(peak, rss(pid))
                await asyncio.sleep(0.1)  # the readers stall for a second: RSS is sampled across it
            digests = [await sha256_of(r) for r in responses]
            for r in responses:
                r.release()
            async with session.get(url) as again:
                whole: dict[str, Any] = await again.json()
        print(
            f"{store} store, server RSS: baseline {baseline / MIB:.0f} MiB, "
            f"peak with {READERS} stalled readers {peak / MIB:.0f} MiB"
        )
        assert peak < baseline + 2 * size, f"{peak / MIB:.0f} MiB with a {size / MIB:.0f} MiB result"
        assert {d for d in digests} == {digests[0]} and digests[0][1] == size
        assert len(whole["data"]["data"]["rows"]) == ROWS and whole["retrieved_at"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_three_56_mb_results_fetched_and_past_their_grace_leave_the_server_near_its_start(
    tmp_path: Path, store: str
) -> None:
    body = json.dumps({"endpoint": "/api/v1/demo/big-result", "payload": {"rows": ROWS, "width": WIDTH}}).encode()
    with serving(tmp_path, store, grace=1) as server:
        pid = server.process.pid
        async with aiohttp.ClientSession() as session:
            baseline = await settled_rss(pid)
            job_ids = [await start(session, server.url, body) for _ in range(3)]
            for job_id in job_ids:
                assert (await wait_final(session, server.url, job_id))["status"] == "completed"
            held = await settled_rss(pid)
            for job_id in job_ids:
                url = f"{server.url}/api/v1/jobs/{job_id}/result"
                async with session.head(url) as head:  # the length without the bytes, and no delivery
                    length = int(head.headers["Content-Length"])
                async with session.get(url) as response:
                    assert (await sha256_of(response))[1] == length > RESULT_BYTES

            async def all_gone() -> bool:
                for job_id in job_ids:
                    async with session.get(f"{server.url}/api/v1/jobs/{job_id}/status") as response:
                        if response.status != 404:
                            return False
                return True

            await wait_until_async(all_gone, 20, "the three results' grace periods to end")
            settled = await wait_rss_below(pid, baseline + AFTER_GRACE_MARGIN, timeout=20)
        print(
            f"{store} store, server RSS: baseline {baseline / MIB:.0f} MiB, three results held {held / MIB:.0f} MiB, "
            f"fetched and past their grace {settled / MIB:.0f} MiB"
        )
        assert settled < baseline + AFTER_GRACE_MARGIN


@pytest.mark.timeout(60)
async def test_a_reader_that_hangs_up_mid_result_leaves_no_error_and_a_retry_gets_it_whole(tmp_path: Path) -> None:
    body = json.dumps({"endpoint": "/api/v1/demo/big-result", "payload": {"rows": 50_000, "width": 100}}).encode()
    with run_server(tmp_path, config=CONFIG.format(grace=60)) as server:
        async with aiohttp.ClientSession() as session:
            job_id = await start(session, server.url, body)
            assert (await wait_final(session, server.url, job_id))["status"] == "completed"
            url = f"{server.url}/api/v1/jobs/{job_id}/result"
            reader, writer = await asyncio.open_connection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
            writer.write(f"GET /api/v1/jobs/{job_id}/result HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            writer.transport.abort()  # gone before the body is sent
            async with session.get(url) as again:
                whole: dict[str, Any] = await again.json()
            async with session.get(f"{server.url}/healthz") as health:
                assert health.status == 200
        assert len(whole["data"]["data"]["rows"]) == 50_000
        assert "unhandled error" not in server.logs()
        assert "Traceback" not in server.logs()


@pytest.mark.timeout(60)
async def test_a_direct_call_on_the_redis_store_answers_with_the_whole_result(tmp_path: Path) -> None:
    # The record no longer carries the result on Redis: the direct answer reads it from its own key.
    with serving(tmp_path, "redis") as server:
        async with aiohttp.ClientSession() as session:
            payload = {"rows": 20_000, "width": 10}
            async with session.post(f"{server.url}/api/v1/demo/big-result", json=payload) as response:
                assert response.status == 200
                answer: dict[str, Any] = await response.json()
    assert len(answer["data"]["rows"]) == 20_000 and answer["data"]["rows"][-1] == "00019999" + "x" * 10
