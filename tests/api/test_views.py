"""The wire format: field casing and the default wording the API gives a job without a message."""

from __future__ import annotations

from jobs.api.views import progress_hint, status_view, summary_view
from jobs.model import Job, JobStatus, new_job_id

NOW = 1_800_000_000.0


def make_job(**fields: object) -> Job:
    job = Job(
        id=new_job_id(NOW), endpoint="/api/v1/extract", payload={}, client="c", timeout_seconds=60, created_at=NOW
    )
    for name, value in fields.items():
        setattr(job, name, value)
    return job


def test_a_job_without_a_message_shows_its_status_default() -> None:
    assert status_view(make_job())["message"] == "Job created, waiting for a worker"
    running = make_job(status=JobStatus.RUNNING, started_at=NOW + 1)
    assert status_view(running)["message"] == "Processing /api/v1/extract request..."


def test_a_message_of_the_job_own_wins_over_the_default() -> None:
    assert summary_view(make_job(status=JobStatus.RUNNING, message="sheet 2 of 5"))["message"] == "sheet 2 of 5"


def test_views_keep_the_design_casing() -> None:
    job = make_job(status=JobStatus.FAILED, message="Job failed: x", error="x", finished_at=NOW + 2)
    status = status_view(job)
    assert list(status)[:2] == ["jobId", "endpoint"]
    assert {"created_at", "updated_at", "started_at", "finished_at", "retry_count", "error"} <= set(status)
    assert "end_reason" not in status  # a recorded code, not part of the wire format
    assert summary_view(job)["id"] == job.id
    assert progress_hint(job.id) == f"Use /api/v1/jobs/{job.id}/status to check progress"
