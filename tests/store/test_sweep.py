"""Contract: cleanup sweeps; on Redis also expiry by TTL and sweeps on several instances at once."""

from __future__ import annotations

import asyncio

from jobs.model import JobStatus
from jobs.store import Counts, JobStore, SweepReport
from tests.store.conftest import StoreFactory
from tests.store.helpers import ROOMY, T0, add_jobs, eventually, make_job, start_running

RETENTION = 600.0
GRACE = 60.0


async def finished_job(
    store: JobStore, client: str = "client-a", key: str | None = None, result: bytes = b"[1]"
) -> str:
    """A job that completed at T0 + 2 with `result`."""
    job = await store.add(make_job(client, key=key), ROOMY)
    await start_running(store, job)
    await store.finish(job.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=result)
    return job.id


async def test_sweep_removes_finished_jobs_after_retention(store: JobStore) -> None:
    job_id = await finished_job(store, key="k")
    assert await store.sweep(T0 + 2 + RETENTION - 1, RETENTION, GRACE) == SweepReport()
    report = await store.sweep(T0 + 2 + RETENTION, RETENTION, GRACE)
    assert (report.removed_finished, report.removed_delivered, report.expired_pending) == (1, 0, [])
    assert await store.get(job_id) is None
    assert await store.result_bytes() == 0
    assert (await store.add(make_job(key="k"), ROOMY)).id != job_id


async def test_sweep_removes_delivered_results_after_grace(store: JobStore) -> None:
    job_id = await finished_job(store)
    await store.mark_delivered(job_id, T0 + 10)
    assert (await store.sweep(T0 + 10 + GRACE - 1, RETENTION, GRACE)).removed_delivered == 0
    report = await store.sweep(T0 + 10 + GRACE, RETENTION, GRACE)
    assert (report.removed_finished, report.removed_delivered) == (0, 1)
    assert await store.get(job_id) is None
    assert await store.result_bytes() == 0


async def test_sweep_hands_out_pending_jobs_past_their_time_limit(store: JobStore) -> None:
    waiting = await store.add(make_job(timeout=30), ROOMY)
    patient = await store.add(make_job("b", timeout=300), ROOMY)
    assert (await store.sweep(T0 + 29, RETENTION, GRACE)).expired_pending == []
    report = await store.sweep(T0 + 31, RETENTION, GRACE)
    assert [job.id for job in report.expired_pending] == [waiting.id]
    expired = await store.finish(waiting.id, JobStatus.EXPIRED, "Job expired", T0 + 31, error="expired while pending")
    assert expired is not None
    claimed = await store.claim_next(T0 + 32)
    assert claimed is not None and claimed.id == patient.id


# --- Redis only: expiry by TTL, index repair, several instances ---


async def test_finished_record_expires_by_itself_and_sweep_repairs_the_indexes(
    redis_stores: StoreFactory,
) -> None:
    store = await redis_stores(retention_seconds=0.2)
    job_id = await finished_job(store, key="k", result=b"12345")
    assert await store.result_bytes() == 5
    await eventually(lambda: _gone(store, job_id))
    # The record is gone before any sweep decides it is old: the sweep still counts it, once.
    report = await store.sweep(T0 + 3, RETENTION, GRACE)
    assert (report.removed_finished, report.removed_delivered) == (1, 0)
    assert await store.result_bytes() == 0
    assert await store.counts() == Counts({}, {}, 0)
    assert await store.list_jobs() == []
    assert (await store.add(make_job(key="k"), ROOMY)).id != job_id  # the idempotency key expired too
    assert (await store.sweep(T0 + 3, RETENTION, GRACE)).removed_finished == 0


async def test_delivered_record_expires_after_the_grace_period(redis_stores: StoreFactory) -> None:
    store = await redis_stores(grace_seconds=0.2)
    job_id = await finished_job(store)
    await store.mark_delivered(job_id, T0 + 3)
    await eventually(lambda: _gone(store, job_id))
    report = await store.sweep(T0 + 4, RETENTION, GRACE)
    assert (report.removed_finished, report.removed_delivered) == (0, 1)
    assert await store.result_bytes() == 0


async def test_sweeps_on_two_instances_at_once_do_each_thing_once(redis_stores: StoreFactory) -> None:
    first, second = await redis_stores(), await redis_stores()
    for client in ("a", "b", "c"):
        await finished_job(first, client)
    for client in ("d", "e"):
        await first.mark_delivered(await finished_job(first, client), T0 + 3)
    overdue = await add_jobs(first, 4, client="f")
    now = T0 + RETENTION + 10
    reports = await asyncio.gather(*(store.sweep(now, RETENTION, GRACE) for store in (first, second, first, second)))
    assert sum(report.removed_finished for report in reports) == 3
    assert sum(report.removed_delivered for report in reports) == 2
    handed_out = [job.id for report in reports for job in report.expired_pending]
    assert sorted(handed_out) == sorted(job.id for job in overdue)
    again = await asyncio.gather(first.sweep(now + 1, RETENTION, GRACE), second.sweep(now + 1, RETENTION, GRACE))
    assert all(report == SweepReport() for report in again)


async def test_sweep_leaves_overdue_jobs_claimed_by_a_live_instance_to_it(redis_stores: StoreFactory) -> None:
    owner, other = await redis_stores(), await redis_stores()
    job = await owner.add(make_job(timeout=30), ROOMY)
    assert await owner.claim_next(T0 + 1) is not None
    assert (await other.sweep(T0 + 31, RETENTION, GRACE)).expired_pending == []
    assert [j.id for j in (await owner.sweep(T0 + 31, RETENTION, GRACE)).expired_pending] == [job.id]


async def _gone(store: JobStore, job_id: str) -> bool:
    return await store.get(job_id) is None


async def test_an_overdue_job_is_handed_out_again_when_its_expiry_was_not_finished(redis_stores: StoreFactory) -> None:
    store = await redis_stores(lease_seconds=10)
    job = await store.add(make_job(timeout=30), ROOMY)
    assert len((await store.sweep(T0 + 31, RETENTION, GRACE)).expired_pending) == 1
    assert (await store.sweep(T0 + 35, RETENTION, GRACE)).expired_pending == []
    # The first sweeper never finished it (it crashed or lost Redis): a lease later it is handed out again.
    assert [j.id for j in (await store.sweep(T0 + 42, RETENTION, GRACE)).expired_pending] == [job.id]
