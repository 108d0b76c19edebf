"""Contract: result and payload budgets, reserved at admission and given back at the end (every backend)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from jobs.budget import Budget, Reservation
from jobs.errors import StoreFull
from jobs.model import JobStatus
from jobs.store import Admission, JobStore
from jobs.store.redis_result import SMALL_RESULT_BYTES
from jobs.store.results import HeldResult, ResultGone
from tests.store.conftest import StoreFactory
from tests.store.helpers import T0, eventually, make_job, redis_url, start_running

KIB = 1024
# Each client may hold 3 KiB of results and reservations, the service 5 KiB; payloads 2 and 3 KiB.
BUDGET = Budget(client_results=3 * KIB, results=5 * KIB, client_payloads=2 * KIB, payloads=3 * KIB)
RETENTION, GRACE = 600.0, 60.0
UNLIMITED = Admission(100, 1_000, Budget(), Reservation(0, 0))  # for results larger than BUDGET takes


def admission(results: int = KIB, payloads: int = 0) -> Admission:
    """Roomy job limits; a job that reserves `results` and `payloads` bytes under BUDGET."""
    return Admission(100, 1_000, BUDGET, Reservation(results, payloads))


async def finish(store: JobStore, job_id: str, result: bytes) -> None:
    """Complete the (only queued) job with `result`."""
    job = await store.get(job_id)
    assert job is not None
    await start_running(store, job)
    assert await store.finish(job_id, JobStatus.COMPLETED, "done", T0 + 2, result_json=result) is not None


async def test_a_client_at_its_share_is_refused_and_another_client_is_not(store: JobStore) -> None:
    for _ in range(3):
        await store.add(make_job("a"), admission())
    with pytest.raises(StoreFull) as refused:
        await store.add(make_job("a"), admission())
    assert "3072 bytes" in refused.value.message  # what the share is
    assert "share" in refused.value.message and "jobs.max_client_result_bytes" in refused.value.message
    assert refused.value.retry_after is not None
    assert len(refused.value.message) <= 300
    await store.add(make_job("b"), admission())  # client b has its own share
    assert await store.pending_count() == 4


async def test_the_total_budget_is_never_overshot_by_many_clients(store: JobStore) -> None:
    for client in "abcde":
        await store.add(make_job(client), admission())
    with pytest.raises(StoreFull) as refused:
        await store.add(make_job("f"), admission())
    assert "jobs.max_stored_result_bytes" in refused.value.message
    assert await store.pending_count() == 5  # a refused start inserted nothing


async def test_a_finished_job_holds_its_real_result_size_instead_of_its_reservation(store: JobStore) -> None:
    first = await store.add(make_job("a"), admission(results=3 * KIB))
    with pytest.raises(StoreFull):
        await store.add(make_job("a"), admission())
    await finish(store, first.id, b"x" * 100)
    await store.add(make_job("a"), admission(results=2 * KIB))  # 100 bytes held + 2 KiB reserved fit 3 KiB
    with pytest.raises(StoreFull):
        await store.add(make_job("a"), admission())


async def test_deleting_a_job_or_its_result_gives_its_bytes_back(store: JobStore) -> None:
    done = await store.add(make_job("a"), admission(results=2 * KIB))
    await finish(store, done.id, b"y" * (2 * KIB))
    waiting = await store.add(make_job("a"), admission())
    with pytest.raises(StoreFull):
        await store.add(make_job("a"), admission())
    await store.delete(waiting.id)  # a pending job's reservation
    await store.add(make_job("a"), admission())
    await store.delete(done.id)  # a held result
    await store.add(make_job("a"), admission())


async def test_a_swept_result_gives_its_bytes_back(store: JobStore) -> None:
    done = await store.add(make_job("a"), admission(results=3 * KIB))
    await finish(store, done.id, b"z" * (3 * KIB))
    with pytest.raises(StoreFull):
        await store.add(make_job("a"), admission())
    await store.mark_delivered(done.id, T0 + 3)
    assert (await store.sweep(T0 + 3 + GRACE, RETENTION, GRACE)).removed_delivered == 1
    await store.add(make_job("a"), admission(results=3 * KIB))


async def test_payloads_of_pending_and_running_jobs_count_until_they_finish(store: JobStore) -> None:
    first = await store.add(make_job("a"), admission(results=0, payloads=2 * KIB))
    with pytest.raises(StoreFull) as refused:
        await store.add(make_job("a"), admission(results=0, payloads=1))
    assert "jobs.max_client_payload_bytes" in refused.value.message
    await store.add(make_job("b"), admission(results=0, payloads=KIB))
    with pytest.raises(StoreFull) as total:
        await store.add(make_job("c"), admission(results=0, payloads=1))
    assert "jobs.max_held_payload_bytes" in total.value.message
    await finish(store, first.id, b"1")  # its payload is dropped: the room comes back
    await store.add(make_job("a"), admission(results=0, payloads=2 * KIB))


async def test_an_idempotent_replay_reserves_nothing_more(store: JobStore) -> None:
    first = await store.add(make_job("a", key="k"), admission(results=3 * KIB))
    assert (await store.add(make_job("a", key="k"), admission(results=3 * KIB))).id == first.id
    await store.add(make_job("b"), admission(results=2 * KIB))  # the total holds 3 + 2 KiB, not 8


async def test_a_stored_result_reads_back_byte_for_byte_in_pieces(store: JobStore) -> None:
    result = ("é" * 1000 + "x").encode()  # pieces end inside two-byte characters
    job = await store.add(make_job("a"), admission(results=3 * KIB))
    await finish(store, job.id, result)
    done = await store.get(job.id)
    assert done is not None
    stored = await store.open_result(done)
    assert stored.size == len(result)
    pieces = [bytes(piece) async for piece in stored.pieces(333)]
    assert b"".join(pieces) == result and max(len(p) for p in pieces) == 333
    assert await store.read_result(job.id) == result


# --- Redis only: the result lives in a key of its own, which goes with its record ---


async def test_a_status_read_does_not_carry_the_result_on_redis(redis_stores: StoreFactory, prefix: str) -> None:
    store = await redis_stores()
    job = await store.add(make_job("a"), admission())
    await finish(store, job.id, b'{"big":1}')
    raw = Redis.from_url(redis_url(store))
    try:
        assert await raw.hexists(f"{prefix}:job:{job.id}", "result_json") == 0
        assert await raw.hexists(f"{prefix}:job:{job.id}", "payload") == 0  # dropped at the end
        assert await raw.get(f"{prefix}:result:{job.id}") == b'{"big":1}'
        ttl = await raw.pttl(f"{prefix}:result:{job.id}")
        assert 0 < ttl <= await raw.pttl(f"{prefix}:job:{job.id}") + 50  # it expires with the record
        await store.delete(job.id)
        assert await raw.exists(f"{prefix}:result:{job.id}") == 0
        held = await raw.hgetall(f"{prefix}:budget")
        assert held == {b"results": b"0"}  # the total is back to 0 and no client keeps a field
    finally:
        await raw.aclose()


async def test_a_result_expires_with_its_record_on_redis(redis_stores: StoreFactory, prefix: str) -> None:
    store = await redis_stores(grace_seconds=0.2)
    job = await store.add(make_job("a"), admission(results=3 * KIB))
    await finish(store, job.id, b"r" * (2 * KIB))
    await store.mark_delivered(job.id, T0 + 3)
    raw = Redis.from_url(redis_url(store))
    try:
        await eventually(lambda: _absent(raw, f"{prefix}:result:{job.id}"))
    finally:
        await raw.aclose()
    assert (await store.sweep(T0 + 4, RETENTION, GRACE)).removed_delivered == 1
    await store.add(make_job("a"), admission(results=3 * KIB))  # the sweep gave the share back


async def test_a_status_read_leaves_the_payload_out_on_redis(redis_stores: StoreFactory) -> None:
    store = await redis_stores()
    job = await store.add(make_job("a"), admission())
    stored = await store.get(job.id)
    assert stored is not None and stored.payload == {} and stored.status is JobStatus.PENDING
    claimed = await store.claim_next(T0)
    assert claimed is not None and claimed.payload == job.payload


async def _absent(raw: Redis, key: str) -> bool:
    return await raw.exists(key) == 0


async def test_a_failed_job_gives_its_whole_reservation_back(store: JobStore) -> None:
    job = await store.add(make_job("a"), admission(results=3 * KIB, payloads=2 * KIB))
    await start_running(store, job)
    assert await store.finish(job.id, JobStatus.FAILED, "Job failed: boom", T0 + 2, error="boom") is not None
    await store.add(make_job("a"), admission(results=3 * KIB, payloads=2 * KIB))


async def test_a_result_deleted_while_it_is_read_stops_the_read_on_redis(redis_stores: StoreFactory) -> None:
    store = await redis_stores()
    job = await store.add(make_job("a"), UNLIMITED)
    await finish(store, job.id, b"q" * (SMALL_RESULT_BYTES + 1000))  # too big to be read whole at once
    done = await store.get(job.id)
    assert done is not None
    pieces = (await store.open_result(done)).pieces(400)
    assert len(await anext(pieces)) == 400
    await store.delete(job.id)
    with pytest.raises(ResultGone):
        await anext(pieces)


async def test_a_small_result_is_fetched_in_one_read_and_a_large_one_streamed_on_redis(
    redis_stores: StoreFactory,
) -> None:
    store = await redis_stores()
    raw = Redis.from_url(redis_url(store))
    try:
        for size in (SMALL_RESULT_BYTES - 1, SMALL_RESULT_BYTES, 3 * SMALL_RESULT_BYTES + 7):
            result = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
            job = await store.add(make_job("a"), UNLIMITED)
            await finish(store, job.id, result)
            done = await store.get(job.id)
            assert done is not None
            before = await raw.info("commandstats")
            stored = await store.open_result(done)
            after = await raw.info("commandstats")
            assert stored.size == size
            assert b"".join([bytes(piece) async for piece in stored.pieces(100_000)]) == result
            opened = {name: after[name]["calls"] - before.get(name, {"calls": 0})["calls"] for name in after}
            whole = size < SMALL_RESULT_BYTES  # only a result shorter than one read is known to be whole
            assert opened.get("cmdstat_strlen", 0) == (0 if whole else 1)
            # One read of exactly SMALL_RESULT_BYTES, with its STRLEN, was all of it: it is held.
            assert isinstance(stored, HeldResult) is (size <= SMALL_RESULT_BYTES)
            assert opened["cmdstat_getrange"] == 1
            await store.delete(job.id)
    finally:
        await raw.aclose()


async def test_a_running_job_recovered_from_a_lost_instance_still_has_its_payload(redis_stores: StoreFactory) -> None:
    # Progress and state replies leave the payload out; the record keeps it for a rerun elsewhere.
    lost, healthy = await redis_stores(lease_seconds=0.3), await redis_stores()
    job = await lost.add(make_job("a"), admission())
    running = await start_running(lost, job)
    assert running.payload == {}
    reported = await lost.set_progress(job.id, 40, "on it", T0 + 2)
    assert reported is not None and reported.payload == {} and reported.progress == 40
    (orphan,) = await eventually(lambda: healthy.orphans(T0 + 2))
    assert orphan.id == job.id and orphan.payload == job.payload
