"""Redis unreachable: every call fails fast with StoreUnavailable, and the store recovers on its own."""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from redis.asyncio import Redis

from jobs.errors import StoreUnavailable
from jobs.model import JobStatus
from jobs.store import JobStore
from jobs.store.redis import RedisJobStore
from tests.process import free_port
from tests.store.helpers import ROOMY, T0, Listener, eventually, make_job, publish_until_heard
from tests.store.redis_server import RedisServer

Call = Callable[[JobStore], Awaitable[object]]

EVERY_CALL: dict[str, Call] = {
    "add": lambda s: s.add(make_job(), ROOMY),
    "get": lambda s: s.get(make_job().id),
    "claim_next": lambda s: s.claim_next(T0),
    "mark_running": lambda s: s.mark_running(make_job().id, T0),
    "set_progress": lambda s: s.set_progress(make_job().id, 5, None, T0),
    "finish": lambda s: s.finish(make_job().id, JobStatus.FAILED, "x", T0),
    "mark_delivered": lambda s: s.mark_delivered(make_job().id, T0),
    "delete": lambda s: s.delete(make_job().id),
    "list_jobs": lambda s: s.list_jobs(),
    "counts": lambda s: s.counts(),
    "result_bytes": lambda s: s.result_bytes(),
    "pending_count": lambda s: s.pending_count(),
    "sweep": lambda s: s.sweep(T0, 1, 1),
    "heartbeat": lambda s: s.heartbeat(T0),
    "orphans": lambda s: s.orphans(T0),
    "requeue": lambda s: s.requeue(make_job().id, T0),
    "publish": lambda s: s.publish("changed", make_job().id),
}


def open_store(url: str, socket_timeout: float = 2.0) -> RedisJobStore:
    return RedisJobStore(
        url, instance_id="outage", retention_seconds=60, grace_seconds=60, socket_timeout=socket_timeout
    )


async def test_every_call_fails_fast_while_redis_is_down_then_recovers(own_redis: RedisServer) -> None:
    store = open_store(own_redis.url)
    try:
        job = await store.add(make_job(), ROOMY)
        own_redis.stop()
        started = time.monotonic()
        for name, call in EVERY_CALL.items():
            with pytest.raises(StoreUnavailable, match="the job store is unavailable") as raised:
                await call(store)
            assert raised.value.retry_after, name
            assert str(own_redis.port) not in raised.value.message, "answers name no internal host or port"
        assert time.monotonic() - started < 5
        own_redis.start()  # empty again (no persistence), and without the scripts loaded
        await eventually(lambda: _answers(store))
        assert await store.get(job.id) is None
        again = await store.add(make_job(), ROOMY)  # NOSCRIPT is handled by reloading the script
        assert await store.claim_next(T0) == again
    finally:
        await store.close()


async def test_connect_reports_an_unreachable_redis() -> None:
    with pytest.raises(StoreUnavailable, match="unavailable"):
        await RedisJobStore.connect(
            f"redis://127.0.0.1:{free_port()}/0", instance_id="i", retention_seconds=1, grace_seconds=1
        )


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


async def test_a_redis_that_does_not_answer_fails_after_the_timeout(silent_server: int) -> None:
    store = open_store(f"redis://127.0.0.1:{silent_server}/0", socket_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get(make_job().id)
        assert time.monotonic() - started < 2
    finally:
        await store.close()


async def test_events_resume_after_a_redis_restart(own_redis: RedisServer) -> None:
    publisher, subscriber = open_store(own_redis.url), open_store(own_redis.url)
    listener = Listener(subscriber)
    try:
        await publish_until_heard(publisher, [listener], "before")
        own_redis.stop()
        own_redis.start()  # the restart closed the listener's connection: it must subscribe again
        await eventually(lambda: _answers(publisher))
        await publish_until_heard(publisher, [listener], "after")
    finally:
        await listener.stop()
        await publisher.close()
        await subscriber.close()


async def _answers(store: JobStore) -> bool:
    try:
        await store.pending_count()
    except StoreUnavailable:
        return False
    return True


async def test_redis_at_maxmemory_refuses_writes_as_unavailable_not_as_an_error(own_redis: RedisServer) -> None:
    store = open_store(own_redis.url)
    try:
        job = await store.add(make_job(), ROOMY)
        admin = Redis.from_url(own_redis.url)
        try:
            await admin.config_set("maxmemory", 1)
            await admin.config_set("maxmemory-policy", "noeviction")
            with pytest.raises(StoreUnavailable) as raised:
                await store.add(make_job(), ROOMY)
            assert raised.value.retry_after
            assert await store.get(job.id) is not None, "reads still work"
            await admin.config_set("maxmemory", 0)
        finally:
            await admin.aclose()
        assert await store.add(make_job(), ROOMY) is not None
    finally:
        await store.close()


async def test_reads_after_a_redis_restart_succeed_on_the_first_try(own_redis: RedisServer) -> None:
    store = open_store(own_redis.url)
    try:
        job = await store.add(make_job(), ROOMY)
        assert await store.get(job.id) is not None  # a connection now sits in the pool
        own_redis.stop()
        own_redis.start()  # the pooled connection is dead; Redis is back, empty
        assert await store.get(job.id) is None
        assert await store.pending_count() == 0
        assert await store.result_bytes() == 0
    finally:
        await store.close()
