"""The pipelined connection the Redis store sends its scripts and job reads on, against a real redis-server."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Connection, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.store.redis_pipe import PipelinedRedis, Script
from tests.store.redis_server import RedisServer
from tests.waiting import wait_until_async


def pipe_to(url: str, *, decode: bool = True, timeout: float = 2.0) -> PipelinedRedis:
    return PipelinedRedis(Redis.from_url(url).connection_pool, decode=decode, timeout=timeout)


@pytest.fixture
async def admin(own_redis: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(own_redis.url, decode_responses=True)
    yield client
    await client.aclose()


async def test_concurrent_callers_each_get_their_own_reply(own_redis: RedisServer, admin: Redis) -> None:
    pipe = pipe_to(own_redis.url)
    try:
        await asyncio.gather(*(pipe.execute("SET", f"k{n}", f"v{n}") for n in range(300)))
        replies = await asyncio.gather(*(pipe.execute("GET", f"k{n}") for n in range(300)))
        assert replies == [f"v{n}" for n in range(300)]
        clients = await admin.client_list()
        assert len(clients) == 2, "the pipe and this admin: 300 concurrent commands shared one connection"
    finally:
        await pipe.aclose()


async def test_an_error_reply_raises_for_its_caller_only(own_redis: RedisServer) -> None:
    pipe = pipe_to(own_redis.url)
    try:
        await pipe.execute("SET", "text", "not a number")
        results = await asyncio.gather(
            pipe.execute("INCR", "text"), pipe.execute("ECHO", "after"), return_exceptions=True
        )
        assert isinstance(results[0], ResponseError) and "not an integer" in str(results[0])
        assert results[1] == "after"
    finally:
        await pipe.aclose()


async def test_raw_replies_are_bytes_and_arguments_keep_every_digit(own_redis: RedisServer) -> None:
    pipe, raw = pipe_to(own_redis.url), pipe_to(own_redis.url, decode=False)
    try:
        await raw.execute("SET", "bin", b"\xff\x00\xe2\x82")  # not UTF-8: only a raw reader may take it
        assert await raw.execute("GET", "bin") == b"\xff\x00\xe2\x82"
        await pipe.execute("SET", "float", 0.1 + 0.2)
        assert float(await pipe.execute("GET", "float")) == 0.1 + 0.2
        with pytest.raises(TypeError):
            await pipe.execute("SET", "flag", True)
    finally:
        await pipe.aclose()
        await raw.aclose()


async def test_a_script_unknown_to_redis_is_loaded_and_run_once(own_redis: RedisServer, admin: Redis) -> None:
    pipe = pipe_to(own_redis.url)
    script = Script("return redis.call('INCR', ARGV[1])")
    try:
        assert await pipe.evalsha(script, "runs") == 1
        await admin.script_flush()  # as after a restart
        assert await pipe.evalsha(script, "runs") == 2, "ran once more, not twice"
        assert await admin.get("runs") == "2"
    finally:
        await pipe.aclose()


async def test_a_caller_that_gives_up_leaves_the_replies_in_order(own_redis: RedisServer, admin: Redis) -> None:
    pipe = pipe_to(own_redis.url)
    try:
        await pipe.execute("PING")
        slow = asyncio.ensure_future(pipe.execute("BLPOP", "never", 0.3))
        await blocked_in_redis(admin)  # it was sent, and Redis holds it
        slow.cancel()
        assert await pipe.execute("ECHO", "mine") == "mine", "the cancelled BLPOP's reply went to nobody"
    finally:
        await pipe.aclose()


async def test_a_dropped_connection_fails_what_waits_and_the_next_command_reconnects(
    own_redis: RedisServer, admin: Redis
) -> None:
    pipe = pipe_to(own_redis.url)
    try:
        await pipe.execute("PING")
        waiting = asyncio.ensure_future(pipe.execute("BLPOP", "never", 5))
        await blocked_in_redis(admin)
        await admin.client_kill_filter(_type="normal", skipme=True)
        with pytest.raises(RedisConnectionError):
            await waiting
        assert await pipe.execute("ECHO", "again") == "again"
    finally:
        await pipe.aclose()


async def test_a_stalled_redis_times_out_every_waiting_command_then_serves_again(own_redis: RedisServer) -> None:
    pipe = pipe_to(own_redis.url, timeout=0.3)
    assert own_redis.process is not None
    pid = own_redis.process.pid
    try:
        await pipe.execute("PING")
        os.kill(pid, signal.SIGSTOP)
        try:
            began = time.monotonic()
            results = await asyncio.gather(*(pipe.execute("ECHO", str(n)) for n in range(3)), return_exceptions=True)
            waited = time.monotonic() - began
        finally:
            os.kill(pid, signal.SIGCONT)
        assert all(isinstance(r, RedisTimeoutError) for r in results), results
        assert waited < 5, f"failed after {waited:.1f} s, not about its 0.3 s timeout"
        assert await pipe.execute("ECHO", "back") == "back"
    finally:
        await pipe.aclose()


async def test_the_url_s_password_and_database_are_used(own_redis: RedisServer, admin: Redis) -> None:
    await admin.config_set("requirepass", "s3cret")
    try:
        url = f"redis://:s3cret@127.0.0.1:{own_redis.port}/3"
        pipe = pipe_to(url)
        try:
            await pipe.execute("SET", "where", "db3")
        finally:
            await pipe.aclose()
        db3 = Redis.from_url(url, decode_responses=True)
        db0 = Redis.from_url(f"redis://:s3cret@127.0.0.1:{own_redis.port}/0", decode_responses=True)
        try:
            assert await db3.get("where") == "db3"
            assert await db0.get("where") is None
        finally:
            await db3.aclose()
            await db0.aclose()
        with pytest.raises(Exception, match=r"(?i)auth|invalid"):
            await pipe_to(f"redis://:wrong@127.0.0.1:{own_redis.port}/0").execute("PING")
    finally:
        fixer = Redis.from_url(f"redis://:s3cret@127.0.0.1:{own_redis.port}/0")
        await fixer.config_set("requirepass", "")
        await fixer.aclose()


async def test_closing_fails_what_still_waits(own_redis: RedisServer, admin: Redis) -> None:
    pipe = pipe_to(own_redis.url)
    await pipe.execute("PING")
    waiting = asyncio.ensure_future(pipe.execute("BLPOP", "never", 5))
    await blocked_in_redis(admin)
    await pipe.aclose()
    with pytest.raises(RedisConnectionError):
        await waiting


async def test_a_command_cancelled_while_it_opens_the_connection_fails_the_others_as_a_connection_error(
    own_redis: RedisServer,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    class GatedConnection(Connection):
        async def connect(self) -> None:
            entered.set()
            await release.wait()  # the open stays in flight until the test lets it go on
            await super().connect()  # type: ignore[no-untyped-call]

    pool = Redis.from_url(own_redis.url).connection_pool
    pool.connection_class = GatedConnection
    pipe = PipelinedRedis(pool, decode=True, timeout=2.0)
    try:
        opener = asyncio.ensure_future(pipe.execute("PING"))
        follower = asyncio.ensure_future(pipe.execute("PING"))
        # The opener enters the open; the follower, scheduled before this wait's wake-up, then waits on it.
        await entered.wait()
        opener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opener
        with pytest.raises(RedisConnectionError):
            await follower  # not cancelled itself: a connection error, which callers already handle
        release.set()
        assert await pipe.execute("ECHO", "then") == "then"
    finally:
        await pipe.aclose()


async def blocked_in_redis(admin: Redis) -> None:
    """Wait until Redis holds a blocked command (a BLPOP sent and waiting)."""

    async def blocked() -> bool:
        return int((await admin.info("clients"))["blocked_clients"]) >= 1

    await wait_until_async(blocked, 10, "Redis to hold the BLPOP")
