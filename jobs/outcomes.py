"""How a job ends: its final status, reason and message for every way it can end, and the error a
client gets for an ending that is not a result. The one place outcomes are mapped."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Literal

from jobs.errors import DocjobsError, JobExpired, JobFailed, WorkerCrashed
from jobs.logs_bounds import bounded
from jobs.model import EndReason, Job, JobStatus

# How a handler run can end, as an executor reports it.
EndKind = Literal["ok", "error", "timeout", "died", "memory"]


@dataclass(frozen=True, slots=True)
class TaskEnd:
    """How a started task ended: its outcome, a timeout, or the death of its process."""

    kind: EndKind
    value: str = ""  # "error": the exception's type name
    detail: str = ""  # "error": the exception's message; "memory": the usage that passed the limit
    exitcode: int | None = None
    where: str = ""  # "error": the module:line it was raised at
    result: bytes = b""  # "ok": the result's JSON, as the worker encoded it


@dataclass(frozen=True, slots=True)
class FinalState:
    """How a job ended: the status, the message for the client, and the raw result or error."""

    status: JobStatus
    message: str
    reason: EndReason
    result_json: bytes | None = None
    error: str | None = None
    # A handler's exception: its type and module:line, for the log (its message goes only to the owner).
    error_type: str | None = None
    where: str | None = None


def expired_while_waiting(job: Job) -> FinalState:
    """The final state of a job that never got a worker within its time limit."""
    return FinalState(
        JobStatus.EXPIRED,
        f"Job expired: it waited more than its {job.timeout_seconds:g} s time limit for a free worker",
        EndReason.EXPIRED_WAITING,
        error="expired while pending",
    )


def not_transferable(reason: Exception) -> FinalState:
    """The final state of a job whose payload could not be handed to a worker."""
    return FinalState(
        JobStatus.FAILED,
        bounded(f"Job failed: its payload could not be handed to a worker ({reason})"),
        EndReason.NOT_TRANSFERABLE,
        error="payload not transferable",
    )


def shut_down(*, started: bool) -> FinalState:
    """The final state of a job the service stopped (or never started) because it shut down."""
    when = "finished" if started else "started"
    return FinalState(
        JobStatus.FAILED,
        f"Job failed: the service shut down before the job {when}",
        EndReason.SHUT_DOWN,
        error="service shut down",
    )


def worker_lost() -> FinalState:
    """The final state of a job whose instance stopped renewing its lease, when it may not run again."""
    return FinalState(
        JobStatus.FAILED,
        "Job failed: the worker running it was lost (its instance stopped renewing its lease)",
        EndReason.WORKER_LOST,
        error="worker lost",
    )


def final_state_of(job: Job, end: TaskEnd) -> FinalState:
    """What a job's status and message become once its worker reported how it ended."""
    if end.kind == "ok":
        done = "Job completed successfully"
        return FinalState(JobStatus.COMPLETED, done, EndReason.COMPLETED, result_json=end.result)
    if end.kind == "error":
        detail = bounded(end.detail)
        # A MemoryError is the worker's limit (RLIMIT_AS) refusing an allocation, not the handler's fault.
        reason = EndReason.MEMORY_LIMIT if end.value == "MemoryError" else EndReason.HANDLER_ERROR
        return FinalState(
            JobStatus.FAILED,
            bounded(f"Job failed: {detail}"),
            reason,
            error=detail,
            error_type=end.value or None,
            where=end.where or None,
        )
    if end.kind == "memory":
        return FinalState(
            JobStatus.FAILED,
            f"Job failed: the worker process went over its memory limit ({end.detail}; "
            "pool.max_worker_rss_bytes) and was stopped",
            EndReason.MEMORY_LIMIT,
            error="worker memory limit",
        )
    if end.kind == "timeout":
        return FinalState(
            JobStatus.EXPIRED,
            f"Job expired: it ran longer than its {job.timeout_seconds:g} s time limit, "
            "so its worker process was stopped",
            EndReason.TIMEOUT,
            error="timeout",
        )
    return FinalState(
        JobStatus.FAILED,
        f"Job failed: {_describe_death(end.exitcode)}",
        EndReason.WORKER_DIED,
        error="worker process died",
    )


def outcome_error(job: Job, *, direct: bool = False) -> DocjobsError | None:
    """The error a client gets for a finished job that has no result; None for a completed one.

    A direct call answers a crashed worker with its own error (502: nothing wrong with the request);
    `/result` reports it as any failed job, with the status beside the id.
    """
    if job.status is JobStatus.COMPLETED:
        return None
    kind: type[DocjobsError] = JobFailed
    if job.status is JobStatus.EXPIRED:
        kind = JobExpired
    elif direct and job.end_reason == EndReason.WORKER_DIED:
        kind = WorkerCrashed
    if direct:
        return kind(job.message, job_id=job.id)
    return kind(job.message, job_id=job.id, status=job.status.value)


def _describe_death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        # docjobs's own kills (timeout, cancel, its memory limit) are reported as such elsewhere; a
        # SIGKILL that reaches here came from outside, and which outside it was is not known.
        hint = (
            " sent by something other than docjobs (an operator, or the system's out-of-memory killer);"
            " the worker's own memory limit did not fire"
            if name == "SIGKILL"
            else ""
        )
        return f"the worker process died from {name}{hint}"
    if exitcode is None:
        return "the worker process died; its exit status is unknown"
    return f"the worker process exited unexpectedly with code {exitcode}"
