"""Which jobs may wait inside a busy worker: only behind quick ones, and never for long in all."""

from __future__ import annotations

from jobs.estimates import QUEUE_BEHIND_MAX_SECONDS, may_wait_behind
from jobs.model import Job, new_job_id
from jobs.pool import Task

NOW = 1_800_000_000.0
TYPICAL = {"/quick": 0.010, "/slow": 2.0}


def task(endpoint: str, started_ago: float | None = None) -> Task:
    job = Job(id=new_job_id(NOW), endpoint=endpoint, payload={}, client="c", timeout_seconds=60, created_at=NOW)
    return Task(job, "handlers.demo:echo", started_at=None if started_ago is None else NOW - started_ago)


def allowed(*ahead: Task) -> bool:
    return may_wait_behind(ahead, TYPICAL.get, NOW)


def test_quick_jobs_may_queue_until_their_expected_wait_reaches_the_bound() -> None:
    running = task("/quick", started_ago=0.002)  # about 8 ms still to go
    queued = [task("/quick") for _ in range(4)]  # 10 ms each
    assert allowed(running, *queued[:4])  # 8 + 40 = 48 ms
    assert not allowed(running, *queued, task("/quick"))  # 58 ms


def test_never_behind_a_slow_or_unmeasured_endpoint() -> None:
    assert not allowed(task("/slow", started_ago=0.001))
    assert not allowed(task("/never-measured", started_ago=0.001))
    assert not allowed(task("/quick", started_ago=0.001), task("/slow"))


def test_never_behind_a_quick_job_that_has_run_past_the_bound() -> None:
    assert allowed(task("/quick", started_ago=QUEUE_BEHIND_MAX_SECONDS / 2))
    assert not allowed(task("/quick", started_ago=QUEUE_BEHIND_MAX_SECONDS * 1.1))


def test_an_empty_worker_needs_no_permission() -> None:
    assert allowed()
