"""Contract: claiming, running, progress, finishing, deleting, listing and counting (every backend)."""

from __future__ import annotations

from jobs.model import JobStatus
from jobs.store import Admission, Counts, JobStore
from jobs.store.redis_result import SMALL_RESULT_BYTES
from jobs.store.results import StoredResult
from tests.store.helpers import ROOMY, T0, add_jobs, make_job, start_running


async def test_claims_follow_insertion_order_and_leave_jobs_pending(store: JobStore) -> None:
    jobs = await add_jobs(store, 3)
    claimed = [await store.claim_next(T0 + 1) for _ in jobs]
    assert [job.id for job in claimed if job is not None] == [job.id for job in jobs]
    assert await store.claim_next(T0 + 1) is None
    for job in jobs:
        stored = await store.get(job.id)
        assert stored is not None and stored.status is JobStatus.PENDING
    assert await store.pending_count() == 3


async def test_mark_running_succeeds_only_from_pending(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    await store.claim_next(T0)
    running = await store.mark_running(job.id, T0 + 2)
    assert running is not None
    assert (running.status, running.started_at, running.updated_at) == (JobStatus.RUNNING, T0 + 2, T0 + 2)
    assert running.message == ""  # the store records no wording; the API shows its default (jobs.api.views)
    assert await store.mark_running(job.id, T0 + 3) is None
    assert await store.pending_count() == 0
    await store.delete(job.id)
    assert await store.mark_running(job.id, T0 + 4) is None


async def test_progress_only_while_running_never_backwards_and_at_most_99(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    assert await store.set_progress(job.id, 10, "early", T0) is None  # still pending
    await start_running(store, job)
    steps = [(40, "reading", 40, "reading"), (20, None, 40, "reading"), (150, "", 99, "reading")]
    for percent, message, shown, shown_message in steps:
        updated = await store.set_progress(job.id, percent, message, T0 + 5)
        assert updated is not None
        assert (updated.progress, updated.message, updated.updated_at) == (shown, shown_message, T0 + 5)
    await store.finish(job.id, JobStatus.FAILED, "failed", T0 + 6, error="boom")
    assert await store.set_progress(job.id, 99, "late", T0 + 7) is None
    assert await store.set_progress(make_job().id, 50, None, T0) is None


async def test_completed_job_has_its_result_and_shows_100(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    await start_running(store, job)
    done = await store.finish(job.id, JobStatus.COMPLETED, "Job completed successfully", T0 + 3, result_json=b'{"a":1}')
    assert done is not None
    assert (done.status, done.progress, done.finished_at, done.result_json) == (
        JobStatus.COMPLETED,
        100,
        T0 + 3,
        b'{"a":1}',
    )
    assert done.duration_seconds == 2
    assert await store.finish(job.id, JobStatus.FAILED, "again", T0 + 4) is None
    assert await store.finish(make_job().id, JobStatus.FAILED, "unknown", T0) is None


async def test_failed_job_keeps_its_progress_and_error(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    await start_running(store, job)
    await store.set_progress(job.id, 30, None, T0 + 2)
    failed = await store.finish(job.id, JobStatus.FAILED, "Job failed: boom", T0 + 3, error="boom")
    assert failed is not None
    assert (failed.progress, failed.error, failed.result_json) == (30, "boom", None)


async def test_finishing_a_pending_job_takes_it_off_the_queue(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    expired = await store.finish(job.id, JobStatus.EXPIRED, "Job expired", T0 + 40, error="expired while pending")
    assert expired is not None and expired.status is JobStatus.EXPIRED
    assert await store.claim_next(T0 + 41) is None
    assert await store.pending_count() == 0


async def test_finish_and_delete_release_the_client_limit(store: JobStore) -> None:
    one = Admission(per_client_limit=1, max_pending=100)
    first = await store.add(make_job("a"), one)
    await start_running(store, first)
    await store.finish(first.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"1")
    second = await store.add(make_job("a"), one)
    await store.claim_next(T0 + 3)
    await store.delete(second.id)
    third = await store.add(make_job("a"), one)
    await store.delete(third.id)  # a queued one
    await store.add(make_job("a"), one)


async def test_deleting_a_pending_job_removes_it_from_the_queue(store: JobStore) -> None:
    first, second = await add_jobs(store, 2)
    deleted = await store.delete(first.id)
    assert deleted is not None and deleted.id == first.id
    assert await store.get(first.id) is None
    assert await store.delete(first.id) is None
    claimed = await store.claim_next(T0 + 1)
    assert claimed is not None and claimed.id == second.id
    assert await store.pending_count() == 1


async def test_result_bytes_count_held_results_until_deleted(store: JobStore) -> None:
    first, second = await add_jobs(store, 2)
    for job, result in ((first, b'{"rows":[1,2,3]}'), (second, b'"ok"')):
        await start_running(store, job)
        await store.finish(job.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=result)
    assert await store.result_bytes() == 20
    await store.mark_delivered(first.id, T0 + 3)
    assert (await store.counts()).result_bytes == 20  # delivered results are held until deleted
    await store.delete(first.id)
    assert await store.result_bytes() == 4
    await store.delete(second.id)
    assert await store.result_bytes() == 0


async def test_delivery_is_noted_once_and_hides_the_job_from_lists(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    await start_running(store, job)
    await store.finish(job.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"1")
    assert await store.mark_delivered(job.id, T0 + 3) == T0 + 3
    assert await store.mark_delivered(job.id, T0 + 4) == T0 + 3, "a second first fetch gets the stored time"
    assert await store.mark_delivered(make_job().id, T0 + 4) is None  # unknown: nothing happens
    delivered = await store.get(job.id)
    assert delivered is not None and delivered.delivered_at == T0 + 3
    assert await store.list_jobs() == []
    assert (await store.counts()).by_status == {}


async def test_list_jobs_oldest_first_optionally_by_status(store: JobStore) -> None:
    jobs = await add_jobs(store, 3)
    other = await store.add(make_job("b", at=T0 + 1, endpoint="/api/v1/demo/sleep"), ROOMY)
    await start_running(store, jobs[0])
    assert [job.id for job in await store.list_jobs()] == [*(job.id for job in jobs), other.id]
    assert [job.id for job in await store.list_jobs(JobStatus.RUNNING)] == [jobs[0].id]
    assert [job.id for job in await store.list_jobs(JobStatus.PENDING)] == [jobs[1].id, jobs[2].id, other.id]
    assert await store.list_jobs(JobStatus.FAILED) == []


async def test_counts_by_status_and_endpoint(store: JobStore) -> None:
    assert await store.counts() == Counts({}, {}, 0)
    jobs = await add_jobs(store, 3)
    await store.add(make_job("b", endpoint="/api/v1/demo/sleep"), ROOMY)
    await start_running(store, jobs[0])
    await store.finish(jobs[0].id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"[]")
    counts = await store.counts()
    assert counts.by_status == {"completed": 1, "pending": 3}
    assert counts.by_endpoint == {"/api/v1/demo/echo": 3, "/api/v1/demo/sleep": 1}
    assert counts.result_bytes == 2


async def test_finish_records_why_the_job_ended_and_a_get_returns_it(store: JobStore) -> None:
    job = await start_running(store, await store.add(make_job(), ROOMY))
    done = await store.finish(job.id, JobStatus.FAILED, "Job failed: ...", T0 + 3, error="x", reason="worker_died")
    assert done is not None and done.end_reason == "worker_died"
    stored = await store.get(job.id)
    assert stored is not None and (stored.end_reason, stored.error) == ("worker_died", "x")


async def test_a_payload_is_kept_while_active_and_dropped_when_the_job_finishes(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    claimed = await store.claim_next(T0 + 1)  # what the runner holds (status reads may leave it out)
    assert claimed is not None and claimed.payload == {"text": "héllo", "n": [1, 2]}
    assert await store.mark_running(job.id, T0 + 1) is not None
    await store.finish(job.id, JobStatus.FAILED, "Job failed: boom", T0 + 3, error="boom")
    finished = await store.get(job.id)
    assert finished is not None and finished.payload == {}
    assert (finished.status, finished.error) == (JobStatus.FAILED, "boom")


async def test_finish_records_the_start_of_a_job_never_marked_running(store: JobStore) -> None:
    quick = await store.add(make_job(), ROOMY)
    assert await store.claim_next(T0 + 1) is not None
    done = await store.finish(quick.id, JobStatus.COMPLETED, "done", T0 + 3, result_json=b"1", started_at=T0 + 2)
    assert done is not None and (done.started_at, done.duration_seconds) == (T0 + 2, 1)
    counted = await store.counts()
    assert counted.by_status == {"completed": 1}
    marked = await start_running(store, await store.add(make_job(), ROOMY), now=T0 + 4)
    again = await store.finish(marked.id, JobStatus.COMPLETED, "done", T0 + 6, result_json=b"1", started_at=T0 + 5)
    assert again is not None and again.started_at == T0 + 4, "a recorded start is kept"


async def test_claim_many_takes_up_to_its_limit_oldest_first(store: JobStore) -> None:
    jobs = await add_jobs(store, 5)
    first = await store.claim_many(T0 + 1, 3)
    assert [job.id for job in first] == [job.id for job in jobs[:3]]
    assert all(job.status is JobStatus.PENDING for job in first)
    rest = await store.claim_many(T0 + 1, 3)
    assert [job.id for job in rest] == [job.id for job in jobs[3:]]
    assert await store.claim_many(T0 + 1, 3) == []
    assert await store.mark_running(jobs[4].id, T0 + 2) is not None, "a job of a batch is the caller's claim"


async def _joined(result: StoredResult) -> bytes:
    return b"".join([bytes(piece) async for piece in result.pieces(64 * 1024)])


async def test_deliver_marks_once_and_opens_the_result_in_one_step(store: JobStore) -> None:
    small, large, failed = await add_jobs(store, 3)
    big = b'"' + b"x" * (SMALL_RESULT_BYTES + 10) + b'"'  # past what one read fetches whole
    for job, result in ((small, b'{"rows":[1]}'), (large, big)):
        await start_running(store, job)
        await store.finish(job.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=result)
    await start_running(store, failed)
    await store.finish(failed.id, JobStatus.FAILED, "no", T0 + 2, error="boom")
    for job, expected in ((small, b'{"rows":[1]}'), (large, big), (failed, b"null")):
        delivered = await store.deliver(job, T0 + 3)
        assert delivered is not None
        kept, opened = delivered
        assert kept == T0 + 3
        assert (opened.size, await _joined(opened)) == (len(expected), expected)
    again = await store.deliver(small, T0 + 4)
    assert again is not None and again[0] == T0 + 3, "a second first fetch gets the stored time"
    assert await _joined(again[1]) == b'{"rows":[1]}'
    stored = await store.get(small.id)
    assert stored is not None and stored.delivered_at == T0 + 3


async def test_deliver_of_a_removed_record_gives_nothing_to_serve(store: JobStore) -> None:
    job = await store.add(make_job(), ROOMY)
    await start_running(store, job)
    finished = await store.finish(job.id, JobStatus.COMPLETED, "done", T0 + 2, result_json=b"[1]")
    assert finished is not None
    await store.delete(job.id)
    assert await store.deliver(finished, T0 + 3) is None  # never an empty (null) result
