"""Every write is fenced by attempt as well as by instance: a stalled instance's late writes never land."""

from __future__ import annotations

import signal

import pytest

from jobs.errors import StoreUnavailable
from jobs.model import JobStatus
from jobs.store.memory import MemoryJobStore
from jobs.store.redis import RedisJobStore
from tests.store.conftest import StoreFactory
from tests.store.helpers import T0, add_jobs, eventually, start_running
from tests.store.redis_server import RedisServer


async def test_a_late_outcome_of_a_requeued_attempt_is_refused(redis_stores: StoreFactory) -> None:
    stalled, healthy = await redis_stores(lease_seconds=0.3), await redis_stores()
    (job,) = await add_jobs(stalled, 1)
    await start_running(stalled, job)
    await eventually(lambda: healthy.orphans(T0 + 2))
    assert await healthy.requeue(job.id, T0 + 2) is not None  # unclaimed and pending again: attempt 2 next
    assert await stalled.set_progress(job.id, 50, "still going", T0 + 3) is None
    assert await stalled.finish(job.id, JobStatus.COMPLETED, "attempt 1 done", T0 + 3) is None
    rerun = await healthy.claim_next(T0 + 4)
    assert rerun is not None and rerun.status is JobStatus.PENDING
    assert await stalled.mark_running(job.id, T0 + 4) is None
    assert await healthy.mark_running(job.id, T0 + 5) is not None
    done = await healthy.finish(job.id, JobStatus.COMPLETED, "attempt 2 done", T0 + 6)
    assert done is not None and done.message == "attempt 2 done"


async def test_an_instance_learns_which_of_its_claims_were_taken(redis_stores: StoreFactory) -> None:
    stalled, healthy = await redis_stores(lease_seconds=0.3), await redis_stores()
    taken, kept = await add_jobs(stalled, 2)
    await start_running(stalled, taken)
    await eventually(lambda: healthy.orphans(T0 + 2))
    await stalled.heartbeat(T0 + 3)  # back from its stall, with a fresh lease
    assert await stalled.claim_next(T0 + 3) == kept
    assert await stalled.lost_claims([taken.id, kept.id]) == [taken.id]


async def test_the_memory_store_never_loses_a_claim() -> None:
    store = MemoryJobStore()
    (job,) = await add_jobs(store, 1)
    await start_running(store, job)
    assert await store.lost_claims([job.id]) == []


async def test_a_claim_whose_reply_was_lost_goes_back_to_the_queue(own_redis: RedisServer, prefix: str) -> None:
    options = {"prefix": prefix, "retention_seconds": 600.0, "grace_seconds": 600.0}
    claimer = await RedisJobStore.connect(own_redis.url, instance_id="claimer", socket_timeout=0.3, **options)
    other = await RedisJobStore.connect(own_redis.url, instance_id="other", **options)
    try:
        assert await claimer.claim_next(T0) is None  # Redis has the claim script loaded from now on
        (job,) = await add_jobs(claimer, 1)
        assert own_redis.process is not None
        own_redis.process.send_signal(signal.SIGSTOP)  # the claim is sent, then its reply times out
        try:
            with pytest.raises(StoreUnavailable):
                await claimer.claim_next(T0 + 1)
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        assert await other.claim_next(T0 + 2) is None, "Redis ran the claim after all: the job is claimed"
        assert await claimer.release_stray_claims([]) == [job.id]
        rerun = await other.claim_next(T0 + 3)
        assert rerun is not None and rerun.id == job.id
        assert await other.mark_running(job.id, T0 + 4) is not None
    finally:
        await claimer.close()
        await other.close()


async def test_claims_the_instance_knows_of_are_left_alone(redis_stores: StoreFactory) -> None:
    store = await redis_stores()
    ready, running = await add_jobs(store, 2)
    assert await store.claim_next(T0 + 1) == ready
    await start_running(store, running)
    assert await store.release_stray_claims([ready.id, running.id]) == []
    assert await store.release_stray_claims([]) == [ready.id], "a running job is never put back"
