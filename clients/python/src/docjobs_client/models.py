"""What the service answers, as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from docjobs_client.errors import InvalidResponse


class JobState(StrEnum):
    """Where a job is in its life, as the service reports it."""

    PENDING = "pending"  # queued, waiting for a free worker
    RUNNING = "running"  # a worker is running its handler
    COMPLETED = "completed"  # done; the result can be fetched
    FAILED = "failed"  # the handler raised, or its worker died
    EXPIRED = "expired"  # it ran or waited past its time limit

    @property
    def is_active(self) -> bool:
        """Pending and running jobs may still change; the others are over."""
        return self in (JobState.PENDING, JobState.RUNNING)


@dataclass(frozen=True, slots=True)
class StartedJob:
    """The answer to `POST /jobs/start`."""

    job_id: str
    endpoint: str
    estimated_time: str
    retry_after: float | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any], retry_after: float | None) -> StartedJob:
        """Read the 202 body; `retry_after` is the suggested poll interval."""
        try:
            return cls(str(body["jobId"]), str(body["endpoint"]), str(body.get("estimatedTime", "")), retry_after, body)
        except KeyError as missing:
            raise InvalidResponse(f"the start answer has no {missing}", body=body) from None


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """A job as one answer to `GET /jobs/{id}/status` showed it (the server calls its state enum JobStatus)."""

    job_id: str
    endpoint: str
    state: JobState
    progress: int
    message: str
    retry_after: float | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, body: dict[str, Any], retry_after: float | None) -> JobSnapshot:
        """Read a status body; an unknown state is an InvalidResponse."""
        try:
            state = JobState(body["status"])
            return cls(
                str(body["jobId"]),
                str(body.get("endpoint", "")),
                state,
                int(body.get("progress", 0)),
                str(body.get("message", "")),
                retry_after,
                body,
            )
        except (KeyError, ValueError, TypeError) as error:
            raise InvalidResponse(f"not a status answer: {error}", body=body) from None

    @property
    def view(self) -> tuple[JobState, int, str]:
        """What a change is: the state, the progress or the message differs."""
        return (self.state, self.progress, self.message)
