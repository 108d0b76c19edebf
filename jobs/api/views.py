"""The wire format of jobs: every JSON field name and casing the API shows, and the default wording.

The design's bodies mix `jobId` with `created_at`; that mix lives here only. The domain records
codes and facts; a job without a message of its own gets its status's default text here.
"""

from __future__ import annotations

from typing import Any

from jobs.estimates import Estimate
from jobs.model import Job, JobStatus, isoformat

JOBS = "/api/v1/jobs"
PENDING_MESSAGE = "Job created, waiting for a worker"


def status_url(job_id: str) -> str:
    """Where a job's status is polled."""
    return f"{JOBS}/{job_id}/status"


def result_url(job_id: str) -> str:
    """Where a job's result is fetched."""
    return f"{JOBS}/{job_id}/result"


def progress_hint(job_id: str) -> str:
    """What a client that asked for a result too early should do instead."""
    return f"Use {status_url(job_id)} to check progress"


def message_of(job: Job) -> str:
    """The job's own message, or the default text for its status."""
    if job.message:
        return job.message
    if job.status is JobStatus.RUNNING:
        return f"Processing {job.endpoint} request..."
    return PENDING_MESSAGE


def status_view(job: Job) -> dict[str, Any]:
    """The body of `GET /jobs/{id}/status`, without the envelope."""
    view: dict[str, Any] = {
        "jobId": job.id,
        **_state_fields(job),
        "started_at": isoformat(job.started_at),
        "finished_at": isoformat(job.finished_at),
        "retry_count": job.retry_count,
    }
    if job.error is not None:
        view["error"] = job.error
    return view


def summary_view(job: Job) -> dict[str, Any]:
    """One entry of `GET /jobs`: the design's fields plus timing."""
    return {"id": job.id, **_state_fields(job), "duration_seconds": job.duration_seconds}


def _state_fields(job: Job) -> dict[str, Any]:
    # The fields both views share (the design names the id differently in each).
    return {
        "endpoint": job.endpoint,
        "status": job.status.value,
        "progress": job.progress,
        "message": message_of(job),
        "created_at": isoformat(job.created_at),
        "updated_at": isoformat(job.updated_at),
    }


def started_view(job: Job, estimate: Estimate) -> dict[str, Any]:
    """The 202 body of `POST /jobs/start`."""
    return {
        "success": True,
        "jobId": job.id,
        "status": "started",
        "endpoint": job.endpoint,
        "estimatedTime": estimate.describe(),
        "estimatedSeconds": {"low": round(estimate.low_seconds, 3), "high": round(estimate.high_seconds, 3)},
        "statusUrl": status_url(job.id),
        "resultUrl": result_url(job.id),
        "created_at": isoformat(job.created_at),
    }


def result_head(job: Job) -> dict[str, Any]:
    """The fields of `GET /jobs/{id}/result` before its `data`."""
    return {"success": True, "jobId": job.id, "status": job.status.value, "endpoint": job.endpoint}


def deleted_view(job: Job) -> dict[str, Any]:
    """The body of `DELETE /jobs/{id}`."""
    return {
        "success": True,
        "message": f"Job '{job.id}' deleted successfully",
        "jobId": job.id,
        "status": job.status.value,
    }
