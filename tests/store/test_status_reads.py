"""Status polls on the Redis store: answered from the instance's cache, never older than what was announced.

Each test removes the record behind the store's back (a raw DEL, which announces nothing) where it must
show that an answer came from the cache, not from a read. Every cache here lives for ten minutes, so a
right answer after a change comes from the change's announcement, never from an entry expiring.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from jobs.model import Job, JobStatus
from jobs.store import JobStore
from jobs.store.redis import RedisJobStore
from jobs.store.status_cache import StatusCache
from tests.store.conftest import StoreFactory
from tests.store.helpers import ROOMY, T0, Listener, make_job, redis_url, start_running
from tests.waiting import wait_until_async

LONG_TTL = 600.0


@pytest.fixture
async def raw(redis_stores: StoreFactory) -> AsyncIterator[Redis]:
    probe = await redis_stores()
    client = Redis.from_url(redis_url(probe), decode_responses=True)
    yield client
    await client.aclose()


class Instance:
    """A store with its own status cache and an event listener, as a server runs it."""

    def __init__(self, store: JobStore, cache: StatusCache) -> None:
        self.store = store
        self.cache = cache
        self.listener = Listener(store)

    async def subscribed(self) -> None:
        await wait_until_async(lambda: self.cache.live, 10, "the store's subscription to be confirmed")

    async def heard(self, kind: str, job_id: str, times: int = 1) -> None:
        await wait_until_async(
            lambda: self.listener.received.count((kind, job_id)) >= times, 10, f"the {kind!r} announcement"
        )


@pytest.fixture
async def instances(redis_stores: StoreFactory) -> AsyncIterator[Callable[[], Awaitable[Instance]]]:
    started: list[Instance] = []

    async def start() -> Instance:
        cache = StatusCache(ttl=LONG_TTL)
        instance = Instance(await redis_stores(status_cache=cache), cache)
        started.append(instance)
        await instance.subscribed()
        return instance

    yield start
    for instance in started:
        await instance.listener.stop()


def key_of(store: JobStore, job: Job) -> str:
    assert isinstance(store, RedisJobStore)
    return store.key("job", job.id)


async def test_polls_of_a_job_written_here_need_no_read(
    instances: Callable[[], Awaitable[Instance]], raw: Redis
) -> None:
    here = await instances()
    job = await here.store.add(make_job(), ROOMY)
    await start_running(here.store, job)
    finished = await here.store.finish(job.id, JobStatus.COMPLETED, "", T0 + 2, result_json=b"1")
    assert finished is not None
    await here.heard("changed", job.id, times=2)  # its own announcements came back: they drop nothing
    fresh = await here.store.get(job.id)
    await raw.delete(key_of(here.store, job))
    polled = await here.store.get_status(job.id)
    assert polled is not None and fresh is not None
    assert polled.to_dict() == fresh.to_dict()
    assert polled.status is JobStatus.COMPLETED and polled.finished_at == T0 + 2
    assert await here.store.get(job.id) is None  # a plain get always reads


async def test_a_change_made_on_another_instance_is_seen_once_announced(
    instances: Callable[[], Awaitable[Instance]],
) -> None:
    here, there = await instances(), await instances()
    job = await here.store.add(make_job(), ROOMY)
    polled = await here.store.get_status(job.id)
    assert polled is not None and polled.status is JobStatus.PENDING
    await start_running(there.store, job)
    await here.heard("changed", job.id)
    polled = await here.store.get_status(job.id)
    assert polled is not None and polled.status is JobStatus.RUNNING
    await there.store.set_progress(job.id, 40, "reading", T0 + 2)
    await here.heard("changed", job.id, times=2)
    polled = await here.store.get_status(job.id)
    assert polled is not None and (polled.progress, polled.message) == (40, "reading")


async def test_a_delivery_or_a_deletion_elsewhere_is_seen_once_announced(
    instances: Callable[[], Awaitable[Instance]],
) -> None:
    here, there = await instances(), await instances()
    job = await there.store.add(make_job(), ROOMY)
    await start_running(there.store, job)
    await there.store.finish(job.id, JobStatus.COMPLETED, "", T0 + 2, result_json=b"1")
    await here.heard("changed", job.id, times=2)
    polled = await here.store.get_status(job.id)
    assert polled is not None and polled.delivered_at is None
    assert await there.store.mark_delivered(job.id, T0 + 3) == T0 + 3
    await here.heard("changed", job.id, times=3)
    polled = await here.store.get_status(job.id)
    assert polled is not None and polled.delivered_at == T0 + 3
    assert await there.store.delete(job.id) is not None
    await here.heard("changed", job.id, times=4)
    assert await here.store.get_status(job.id) is None


async def test_a_lost_subscription_empties_the_cache(instances: Callable[[], Awaitable[Instance]], raw: Redis) -> None:
    here = await instances()
    job = await here.store.add(make_job(), ROOMY)
    generation = here.cache.generation
    await raw.client_kill_filter(_type="pubsub")  # announcements published meanwhile would be lost
    await wait_until_async(lambda: here.cache.generation >= generation + 2, 10, "the lost and renewed subscription")
    await raw.delete(key_of(here.store, job))
    assert await here.store.get_status(job.id) is None  # read: nothing cached survived the loss


async def test_without_a_subscription_every_poll_reads(redis_stores: StoreFactory, raw: Redis) -> None:
    store = await redis_stores(status_cache=StatusCache(ttl=LONG_TTL))  # nobody follows its events
    job = await store.add(make_job(), ROOMY)
    assert await store.get_status(job.id) is not None
    await raw.delete(key_of(store, job))
    assert await store.get_status(job.id) is None
