"""Contract: leases, orphans, requeue and events; on Redis also many instances working at once."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from jobs.errors import ClientLimitReached, QueueFull
from jobs.model import JobStatus
from jobs.store import Admission, JobStore
from jobs.store.redis import RedisJobStore
from tests.store.conftest import StoreFactory
from tests.store.helpers import (
    ROOMY,
    T0,
    Listener,
    add_jobs,
    eventually,
    make_job,
    publish_until_heard,
    start_running,
)
from tests.store.redis_server import RedisServer


async def test_requeued_job_goes_first_as_pending_with_one_more_retry(store: JobStore) -> None:
    first, second = await add_jobs(store, 2)
    await start_running(store, first)
    requeued = await store.requeue(first.id, T0 + 5)
    assert requeued is not None
    assert (requeued.status, requeued.retry_count, requeued.started_at) == (JobStatus.PENDING, 1, None)
    assert [(await store.claim_next(T0 + 6)) for _ in range(2)] == [requeued, second]
    await store.mark_running(first.id, T0 + 7)
    assert (await store.requeue(first.id, T0 + 8) or first).retry_count == 2
    await store.delete(first.id)
    assert await store.requeue(first.id, T0 + 9) is None


async def test_one_instance_alone_has_no_orphans(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    await store.heartbeat(T0)
    await start_running(store, job)
    assert await store.orphans(T0 + 100) == []


async def test_every_listener_gets_every_published_event(open_store: StoreFactory) -> None:
    first, second = await open_store(), await open_store()
    listeners = [Listener(first), Listener(second), Listener(second)]
    try:
        await publish_until_heard(first, listeners, "probe-job")
        for listener in listeners:
            listener.received.clear()
        await second.publish("cancel", "job-1")
        await first.publish("changed", "job-2")
        expected = [("cancel", "job-1"), ("changed", "job-2")]

        async def all_received() -> bool:
            await asyncio.sleep(0)
            return all(len(listener.received) >= 2 for listener in listeners)

        await eventually(all_received)
        assert [listener.received for listener in listeners] == [expected] * 3
    finally:
        for listener in listeners:
            await listener.stop()


# --- Redis only: several instances on one Redis ---


async def test_concurrent_claims_from_many_instances_take_each_job_once(redis_stores: StoreFactory) -> None:
    instances = [await redis_stores() for _ in range(4)]
    jobs = await add_jobs(instances[0], 40)
    claims = await asyncio.gather(*(instances[i % 4].claim_next(T0 + 1) for i in range(80)))
    claimed = [job.id for job in claims if job is not None]
    assert sorted(claimed) == sorted(job.id for job in jobs)


async def test_concurrent_starts_on_many_instances_never_pass_the_limits(redis_stores: StoreFactory) -> None:
    instances = [await redis_stores() for _ in range(4)]
    per_client = Admission(per_client_limit=5, max_pending=1000)
    outcomes = await asyncio.gather(
        *(instances[i % 4].add(make_job("a"), per_client) for i in range(30)), return_exceptions=True
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) == 5
    assert all(isinstance(o, ClientLimitReached) for o in outcomes if isinstance(o, Exception))
    bounded = Admission(per_client_limit=100, max_pending=12)
    outcomes = await asyncio.gather(
        *(instances[i % 4].add(make_job(f"c{i}"), bounded) for i in range(30)), return_exceptions=True
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) == 7
    assert all(isinstance(o, QueueFull) for o in outcomes if isinstance(o, Exception))
    assert await instances[1].pending_count() == 12


async def test_concurrent_starts_with_one_idempotency_key_make_one_job(redis_stores: StoreFactory) -> None:
    instances = [await redis_stores() for _ in range(4)]
    started = await asyncio.gather(*(instances[i % 4].add(make_job("a", key="once"), ROOMY) for i in range(20)))
    assert len({job.id for job in started}) == 1
    assert await instances[0].pending_count() == 1


async def test_a_claim_records_the_instance_and_fences_out_the_others(
    redis_stores: StoreFactory, redis_server: RedisServer
) -> None:
    owner, other = await redis_stores(), await redis_stores()
    assert isinstance(owner, RedisJobStore)
    job = await owner.add(make_job(), ROOMY)
    await owner.claim_next(T0)
    async with Redis.from_url(redis_server.url, decode_responses=True) as raw:
        assert await raw.hget(owner.key("job", job.id), "claimed_by") == owner.instance_id
    assert await other.mark_running(job.id, T0 + 1) is None
    assert await other.finish(job.id, JobStatus.FAILED, "not mine", T0 + 1) is None
    await owner.mark_running(job.id, T0 + 1)
    assert await other.set_progress(job.id, 50, None, T0 + 2) is None
    assert await other.requeue(job.id, T0 + 2) is None
    assert await owner.set_progress(job.id, 50, None, T0 + 2) is not None
    assert (await other.delete(job.id) or job).status is JobStatus.RUNNING  # delete works on any job


async def test_jobs_of_an_instance_whose_lease_expired_go_to_one_caller(redis_stores: StoreFactory) -> None:
    lost = await redis_stores(lease_seconds=0.3)
    first, second = await redis_stores(), await redis_stores()
    running, claimed, queued = await add_jobs(lost, 3)
    await start_running(lost, running)
    assert await lost.claim_next(T0 + 1) == claimed
    assert await first.orphans(T0 + 1) == []  # the lease is still alive
    found = await eventually(lambda: first.orphans(T0 + 2))
    assert sorted(job.id for job in found) == sorted([running.id, claimed.id])
    assert await second.orphans(T0 + 2) == []
    assert await lost.finish(running.id, JobStatus.COMPLETED, "too late", T0 + 3) is None  # fenced out
    requeued = await first.requeue(running.id, T0 + 3)
    assert requeued is not None and requeued.retry_count == 1
    assert await first.finish(claimed.id, JobStatus.FAILED, "worker lost", T0 + 3) is not None
    assert [await second.claim_next(T0 + 4) for _ in range(2)] == [requeued, queued]


async def test_heartbeats_keep_an_instance_lease_alive(redis_stores: StoreFactory) -> None:
    alive, watcher = await redis_stores(lease_seconds=0.3), await redis_stores()
    job = await alive.add(make_job(), ROOMY)
    await start_running(alive, job)
    for _ in range(8):
        await alive.heartbeat(T0)
        assert await watcher.orphans(T0) == []
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("bad", [{"instance_id": ""}, {"lease_seconds": 0}, {"retention_seconds": -1}])
def test_invalid_store_settings_are_rejected(bad: dict[str, object]) -> None:
    options: dict[str, object] = {"instance_id": "i", "retention_seconds": 1, "grace_seconds": 1, **bad}
    with pytest.raises(ValueError):
        RedisJobStore("redis://127.0.0.1:1/0", **options)  # type: ignore[arg-type]
