"""Event streams on a live server.py: a store failure after the stream started ends it with an
`error` event (never a second HTTP answer inside the chunked body); a client that leaves is logged at
debug; probes and 503 answers name no internal host or port."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis

from tests.process import ServerProcess, run_server
from tests.store.redis_server import RedisServer, running_redis

CONFIG = """
[server]
use_uvloop = true

[pool]
workers = 1

[logging]
level = "{level}"

[store]
backend = "redis"
url = "{url}"
prefix = "{prefix}"

[endpoints]
"/api/v1/demo/sleep" = {{ handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep" }}
"""
PREFIX = "streams"
DEADLINE = 10.0
# Redis holds every command for this long: the server's reads time out (2 s) and fail meanwhile.
PAUSE_MS = 4000


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path) as running:
        yield running


def server_on(tmp_path: Path, store: RedisServer, level: str = "INFO") -> Any:
    return run_server(tmp_path, config=CONFIG.format(level=level, url=store.url, prefix=PREFIX))


async def start_sleep(session: aiohttp.ClientSession, server: ServerProcess) -> str:
    start = {"endpoint": "/api/v1/demo/sleep", "payload": {"seconds": 60, "steps": 1}}
    async with session.post(f"{server.url}/api/v1/jobs/start", json=start) as response:
        assert response.status == 202, await response.text()
        job_id: str = (await response.json())["jobId"]
    return job_id


async def next_event(stream: aiohttp.StreamReader) -> tuple[str, dict[str, Any]]:
    """The next `event:` block of a server-sent event stream (comments skipped)."""
    kind, data = "", ""
    while True:
        line = (await asyncio.wait_for(stream.readline(), DEADLINE)).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and kind:
            return kind, json.loads(data)
        elif not line and stream.at_eof():
            raise AssertionError("the stream ended without another event")


async def test_a_store_failure_after_the_stream_started_ends_it_with_an_error_event(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with server_on(tmp_path, redis_server) as server:
        async with aiohttp.ClientSession() as session:
            job_id = await start_sleep(session, server)
            async with session.get(f"{server.url}/api/v1/jobs/{job_id}/events") as response:
                assert response.status == 200
                assert (await next_event(response.content))[0] == "status"
                async with redis.Redis(port=redis_server.port) as direct:
                    # Wake the stream through the job's change channel, and hold its next read in Redis.
                    pipe = direct.pipeline(transaction=False)
                    pipe.publish(f"{PREFIX}:events", json.dumps(["changed", job_id]))
                    pipe.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")
                    await pipe.execute()
                kind, data = await next_event(response.content)
                while kind == "status":  # a change that was already in flight
                    kind, data = await next_event(response.content)
                assert kind == "error", data
                assert data["success"] is False and data["error"] == "store_unavailable"
                assert str(redis_server.port) not in data["message"]
                rest = await asyncio.wait_for(response.content.read(), DEADLINE)  # a clean end of the body
                assert b"HTTP/1.1" not in rest
    assert "Redis at 127.0.0.1" in server.logs(), "the log says where the store failed"


async def test_a_client_leaving_an_event_stream_is_logged_at_debug(tmp_path: Path, redis_server: RedisServer) -> None:
    with server_on(tmp_path, redis_server, level="DEBUG") as server:
        async with aiohttp.ClientSession() as session:
            job_id = await start_sleep(session, server)
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
            writer.write(f"GET /api/v1/jobs/{job_id}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            assert b"event: status" in await asyncio.wait_for(reader.readuntil(b"\n\n"), DEADLINE)
            writer.close()
        until = time.monotonic() + DEADLINE
        while server.logs().count("client left an event stream") < 3:
            assert time.monotonic() < until, "the server never noticed the clients leaving"
            await asyncio.sleep(0.05)
        records = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    left = [r for r in records if r["event"] == "client left an event stream"]
    assert {r["level"] for r in left} == {"debug"} and not any("exception" in r for r in left)
    assert not [r for r in records if r["level"] == "error"], "a disconnect is normal, not an error"


async def test_readiness_and_503_answers_name_no_internal_host(tmp_path: Path, redis_server: RedisServer) -> None:
    with server_on(tmp_path, redis_server) as server:
        redis_server.stop()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/readyz") as ready:
                assert ready.status == 503
                text = await ready.text()
            async with session.get(f"{server.url}/api/v1/jobs") as listed:
                assert listed.status == 503
                refused = await listed.text()
        for answer in (text, refused):
            assert "127.0.0.1" not in answer and str(redis_server.port) not in answer, answer
        assert "job store unavailable" in text
    assert f"127.0.0.1:{redis_server.port}" in server.logs()
