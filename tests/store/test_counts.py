"""Contract: the counters behind counts and the paged job list stay exact through every transition."""

from __future__ import annotations

from collections import Counter

from jobs.model import Job, JobStatus
from jobs.store import Admission, Counts, JobStore
from tests.store.conftest import StoreFactory
from tests.store.helpers import ROOMY, T0, eventually, make_job, start_running

RETENTION = 600.0
GRACE = 60.0
SLEEP = "/api/v1/demo/sleep"
CLIENTS = ("a", "b")


async def held(store: JobStore, ids: list[str]) -> list[Job]:
    """The jobs of `ids` that counts and lists must show: those still stored and not delivered."""
    jobs = [await store.get(job_id) for job_id in ids]
    return [job for job in jobs if job is not None and job.delivered_at is None]


def tallied(jobs: list[Job]) -> tuple[dict[str, int], dict[str, int], dict[str, dict[str, int]]]:
    """What the counters must say about `jobs`, counted the slow way."""
    by_endpoint_status: dict[str, dict[str, int]] = {}
    for job in jobs:
        outcomes = by_endpoint_status.setdefault(job.endpoint, {})
        outcomes[job.status.value] = outcomes.get(job.status.value, 0) + 1
    by_status = dict(Counter(job.status.value for job in jobs))
    return by_status, dict(Counter(job.endpoint for job in jobs)), by_endpoint_status


async def paged(store: JobStore, status: JobStatus | None, client: str | None) -> list[str]:
    """Every listed id, read two at a time through the cursor."""
    ids: list[str] = []
    cursor: int | None = 0
    while cursor is not None:
        page = await store.page_jobs(status, client, cursor, 2)
        assert len(page.jobs) <= 2
        ids.extend(job.id for job in page.jobs)
        cursor = page.next_cursor
    return ids


async def assert_exact(store: JobStore, ids: list[str], step: str) -> None:
    """Counts (overall and per client) and the paged lists agree with the jobs themselves."""
    jobs = await held(store, ids)
    for client in (None, *CLIENTS):
        mine = [job for job in jobs if client is None or job.client == client]
        counts = await store.counts(client)
        assert (counts.by_status, counts.by_endpoint, counts.by_endpoint_status) == tallied(mine), (step, client)
        assert await paged(store, None, client) == [job.id for job in mine], (step, client)
        for status in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED):
            wanted = [job.id for job in mine if job.status is status]
            assert await paged(store, status, client) == wanted, (step, client, status)


async def test_counters_stay_exact_through_every_transition(store: JobStore) -> None:
    ids: list[str] = []

    async def add(client: str, endpoint: str = "/api/v1/demo/echo", timeout: float = 300.0) -> Job:
        job = await store.add(make_job(client, at=T0 + len(ids) / 1000, endpoint=endpoint, timeout=timeout), ROOMY)
        ids.append(job.id)
        return job

    queued, claimed, running, done, failed, delivered, requeued = [await add(c) for c in "abababa"]
    await add("b", SLEEP)
    overdue = await add("a", SLEEP, timeout=5)
    await assert_exact(store, ids, "added")
    for job in (queued, claimed, running, done, failed, delivered, requeued):
        assert (await store.claim_next(T0 + 1)) is not None
        if job not in (queued, claimed):
            assert await store.mark_running(job.id, T0 + 1) is not None
    await store.requeue(queued.id, T0 + 1)  # claimed, never started: back to the queue
    await assert_exact(store, ids, "claimed and running")
    await store.finish(done.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"[1]")
    await store.finish(failed.id, JobStatus.FAILED, "failed", T0 + 2, error="boom")
    await store.finish(delivered.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"[2]")
    await store.requeue(requeued.id, T0 + 2)
    await assert_exact(store, ids, "finished and requeued")
    await store.mark_delivered(delivered.id, T0 + 3)
    await store.mark_delivered(delivered.id, T0 + 4)  # a second fetch changes nothing
    await assert_exact(store, ids, "delivered")
    report = await store.sweep(T0 + 10, RETENTION, GRACE)
    assert [job.id for job in report.expired_pending] == [overdue.id]
    await store.finish(overdue.id, JobStatus.EXPIRED, "Job expired", T0 + 10, error="expired while pending")
    await assert_exact(store, ids, "expired")
    for job in (queued, claimed, running, done, delivered):  # pending queued and claimed, running, final, delivered
        await store.delete(job.id)
        await assert_exact(store, ids, f"deleted {job.id}")
    await store.sweep(T0 + 2 + RETENTION, RETENTION, GRACE)
    await assert_exact(store, ids, "swept")
    for job_id in ids:
        await store.delete(job_id)
    assert await store.counts() == Counts({}, {}, 0)
    assert await store.counts("a") == Counts({}, {}, 0)


async def test_a_filtered_page_examines_a_bounded_number_of_jobs(store: JobStore) -> None:
    roomy = Admission(per_client_limit=100, max_pending=1_000)
    jobs = [await store.add(make_job("a", at=T0 + i / 1000), roomy) for i in range(25)]
    await start_running(store, jobs[0])
    first = await store.page_jobs(JobStatus.PENDING, None, 0, 1)
    assert [job.id for job in first.jobs] == [jobs[1].id]
    # Only completed ones wanted, none held: a page examines 10 x limit jobs, then hands back a cursor.
    page = await store.page_jobs(JobStatus.COMPLETED, None, 0, 1)
    assert page.jobs == [] and page.next_cursor is not None
    pages = 1
    while page.next_cursor is not None:
        page = await store.page_jobs(JobStatus.COMPLETED, None, page.next_cursor, 1)
        assert page.jobs == []
        pages += 1
    assert pages == 3


async def test_a_sweep_of_a_record_expired_by_ttl_uncounts_it(redis_stores: StoreFactory) -> None:
    store = await redis_stores(retention_seconds=0.2)
    job = await start_running(store, await store.add(make_job("a"), ROOMY))
    await store.finish(job.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"[1]")

    async def gone() -> bool:
        return await store.get(job.id) is None

    await eventually(gone, what="the record to expire by its TTL")
    assert (await store.counts("a")).by_status == {"completed": 1}, "counted until a sweep sees it gone"
    assert (await store.sweep(T0 + 3, RETENTION, GRACE)).removed_finished == 1
    assert await store.counts("a") == Counts({}, {}, 0)
    assert (await store.page_jobs(None, "a", 0, 10)).jobs == []
