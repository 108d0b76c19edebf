"""Contract: adding jobs, the per-client limit, the queue bound and idempotency keys (every backend)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from jobs.errors import ClientLimitReached, QueueFull
from jobs.model import JobStatus
from jobs.store import Admission, JobStore
from jobs.store.recent import RecentCount
from tests.store.conftest import StoreFactory
from tests.store.helpers import ROOMY, T0, make_job, redis_url, start_running


async def test_added_job_reads_back_unchanged(store: JobStore) -> None:
    job = make_job(key="k1")
    job.request_id = "req-1"
    job.extra = {"source": {"kind": "test"}}
    assert await store.add(job, ROOMY) is job
    stored = await store.get(job.id)
    assert stored is not None
    assert stored.to_dict() == {**job.to_dict(), "payload": stored.payload}  # a store may leave it out
    assert stored.payload in ({}, job.payload)
    assert await store.pending_count() == 1
    claimed = await store.claim_next(T0)
    assert claimed is not None and claimed.payload == job.payload  # the runner gets it whole


async def test_unknown_job_is_none(store: JobStore) -> None:
    assert await store.get(make_job().id) is None


async def test_client_limit_counts_pending_and_running_jobs(store: JobStore) -> None:
    limit = Admission(per_client_limit=2, max_pending=100)
    first = await store.add(make_job("a"), limit)
    await store.add(make_job("a"), limit)
    await start_running(store, first)
    with pytest.raises(ClientLimitReached) as raised:
        await store.add(make_job("a"), limit)
    assert raised.value.retry_after is not None
    assert "2 pending or running jobs" in raised.value.message
    await store.add(make_job("b"), limit)  # other clients are not affected


async def test_queue_bound_counts_claimed_but_not_started_jobs(store: JobStore) -> None:
    bound = Admission(per_client_limit=100, max_pending=2)
    first = await store.add(make_job("a"), bound)
    await store.add(make_job("b"), bound)
    assert await store.claim_next(T0) is not None  # claimed, still pending
    with pytest.raises(QueueFull):
        await store.add(make_job("c"), bound)
    await store.mark_running(first.id, T0)  # running jobs do not take queue room
    await store.add(make_job("c"), bound)
    assert await store.pending_count() == 2


async def test_same_idempotency_key_returns_the_first_job(store: JobStore) -> None:
    first = await store.add(make_job("a", key="same"), ROOMY)
    again = await store.add(make_job("a", key="same"), ROOMY)
    assert again.id == first.id
    assert await store.pending_count() == 1
    other_client = await store.add(make_job("b", key="same"), ROOMY)
    no_key = await store.add(make_job("a"), ROOMY)
    assert len({first.id, other_client.id, no_key.id}) == 3


async def test_idempotent_replay_is_answered_even_at_the_limit(store: JobStore) -> None:
    one = Admission(per_client_limit=1, max_pending=1)
    first = await store.add(make_job("a", key="k"), one)
    assert (await store.add(make_job("a", key="k"), one)).id == first.id


async def test_idempotent_replay_returns_a_finished_job(store: JobStore) -> None:
    first = await store.add(make_job("a", key="k"), ROOMY)
    await start_running(store, first)
    await store.finish(first.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"{}")
    replayed = await store.add(make_job("a", key="k"), ROOMY)
    assert replayed.id == first.id
    assert replayed.status is JobStatus.COMPLETED


async def test_idempotency_key_is_free_again_once_its_job_is_deleted(store: JobStore) -> None:
    first = await store.add(make_job("a", key="k"), ROOMY)
    await store.delete(first.id)
    second = await store.add(make_job("a", key="k"), ROOMY)
    assert second.id != first.id


async def test_a_recent_queue_length_is_the_one_a_start_just_read(store: JobStore) -> None:
    for expected in (1, 2, 3):
        await store.add(make_job(), ROOMY)
        assert await store.pending_count(max_age=60) == expected  # every backend counts the new job
    first = await store.claim_next(T0)
    assert first is not None
    assert await store.mark_running(first.id, T0) is not None
    assert await store.pending_count() == 2  # the exact count always reads the store


async def test_a_start_reads_the_queue_length_for_its_estimate_on_redis(redis_stores: StoreFactory) -> None:
    store, other = await redis_stores(), await redis_stores()
    raw = Redis.from_url(redis_url(store))
    try:
        await other.add(make_job(), ROOMY)
        await store.add(make_job(), ROOMY)
        before = (await raw.info("commandstats")).get("cmdstat_zcard", {"calls": 0})["calls"]
        assert await store.pending_count(max_age=60) == 2  # what add.lua counted: another round trip saved
        assert (await raw.info("commandstats")).get("cmdstat_zcard", {"calls": 0})["calls"] == before
        await other.add(make_job(), ROOMY)
        assert await store.pending_count() == 3  # exact: it reads the queue
        assert await store.pending_count(max_age=60) == 3  # and that read is the recent one now
    finally:
        await raw.aclose()


def test_a_recent_count_ages() -> None:
    now = [100.0]
    count = RecentCount(clock=lambda: now[0])
    assert count.recent(10) is None  # nothing seen yet
    count.saw(4)
    now[0] += 0.5
    assert count.recent(0.5) == 4
    assert count.recent(0.4) is None


async def test_an_add_that_claims_takes_the_oldest_jobs_first(store: JobStore) -> None:
    older = await store.add(make_job(), ROOMY)
    newer, claimed = await store.add_and_claim(make_job(), ROOMY, T0, 1)
    assert [job.id for job in claimed] == [older.id]  # the queue's order, not the caller's job
    assert claimed[0].payload == older.payload  # whole, as claim_next gives it
    _, rest = await store.add_and_claim(make_job(), ROOMY, T0, 5)
    assert [job.id for job in rest][:1] == [newer.id] and len(rest) == 2  # all that waited, oldest first
    assert await store.claim_next(T0) is None
    assert await store.pending_count() == 3  # claimed jobs stay pending until they run


async def test_an_add_that_claims_nothing_or_replays_claims_nothing(store: JobStore) -> None:
    job, none = await store.add_and_claim(make_job(key="k"), ROOMY, T0, 0)
    assert none == []
    replayed, claimed = await store.add_and_claim(make_job(key="k"), ROOMY, T0, 5)
    assert replayed.id == job.id and claimed == []  # a replay inserts nothing and claims nothing
    assert (await store.claim_next(T0)) is not None  # the job still waits for a claim
