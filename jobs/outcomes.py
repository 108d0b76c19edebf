"""How a job ends: its final status and the message a client reads, for every way it can end."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from jobs.logs_bounds import bounded
from jobs.model import Job, JobStatus
from jobs.pool import TaskEnd


@dataclass(frozen=True, slots=True)
class FinalState:
    """How a job ended: the status, the message for the client, and the raw result or error."""

    status: JobStatus
    message: str
    result_json: str | None = None
    error: str | None = None
    # A handler's exception: its type and module:line, for the log (its message goes only to the owner).
    error_type: str | None = None
    where: str | None = None


def expired_while_waiting(job: Job) -> FinalState:
    """The final state of a job that never got a worker within its time limit."""
    return FinalState(
        JobStatus.EXPIRED,
        f"Job expired: it waited more than its {job.timeout_seconds:g} s time limit for a free worker",
        error="expired while pending",
    )


def final_state_of(job: Job, end: TaskEnd) -> FinalState:
    """What a job's status and message become once its worker reported how it ended."""
    if end.kind == "ok":
        return FinalState(JobStatus.COMPLETED, "Job completed successfully", result_json=end.value)
    if end.kind == "error":
        return FinalState(
            JobStatus.FAILED,
            bounded(f"Job failed: {end.detail}"),
            error=bounded(end.detail),
            error_type=end.value or None,
            where=end.where or None,
        )
    if end.kind == "memory":
        return FinalState(
            JobStatus.FAILED,
            f"Job failed: the worker process went over its memory limit ({end.detail}; "
            "pool.max_worker_rss_bytes) and was stopped",
            error="worker memory limit",
        )
    if end.kind == "timeout":
        return FinalState(
            JobStatus.EXPIRED,
            f"Job expired: it ran longer than its {job.timeout_seconds:g} s time limit, "
            "so its worker process was stopped",
            error="timeout",
        )
    return FinalState(JobStatus.FAILED, f"Job failed: {_describe_death(end.exitcode)}", error="worker process died")


def _describe_death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (likely killed for using too much memory)" if name == "SIGKILL" else ""
        return f"the worker process died from {name}{hint}"
    return f"the worker process exited unexpectedly with code {exitcode}"
