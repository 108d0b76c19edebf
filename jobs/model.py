"""The job record: its status, its fields, and its JSON form."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

# What the runner and the service read the time from: time.time, or a test's fake clock.
Clock = Callable[[], float]

# job_<unix ms>_<128 random bits in hex>: sortable by creation time, unguessable, and safe in paths and keys.
JOB_ID_PATTERN = re.compile(r"job_[0-9]{13}_[0-9a-f]{32}")


class JobStatus(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"  # created, waiting for a free worker
    RUNNING = "running"  # a worker process is running its handler
    COMPLETED = "completed"  # the handler returned; the result is stored
    FAILED = "failed"  # the handler raised, its worker died, or the service stopped
    EXPIRED = "expired"  # it ran or waited past its time limit

    @property
    def is_active(self) -> bool:
        """Pending and running jobs count against limits; the others are finished."""
        return self in (JobStatus.PENDING, JobStatus.RUNNING)


class EndReason(StrEnum):
    """Why a job reached its final status; recorded with it, so callers need not parse messages."""

    COMPLETED = "completed"  # the handler returned a result
    HANDLER_ERROR = "handler_error"  # the handler raised
    TIMEOUT = "timeout"  # it ran past its time limit and its worker was stopped
    MEMORY_LIMIT = "memory_limit"  # its worker went over pool.max_worker_rss_bytes
    WORKER_DIED = "worker_died"  # its worker process died under it
    EXPIRED_WAITING = "expired_waiting"  # it waited past its time limit for a worker
    NOT_TRANSFERABLE = "not_transferable"  # its payload could not be sent to a worker
    SHUT_DOWN = "shut_down"  # the service stopped before it finished
    WORKER_LOST = "worker_lost"  # the instance running it stopped renewing its lease


def new_job_id(now: float | None = None) -> str:
    """A fresh job id in the documented format."""
    millis = int((time.time() if now is None else now) * 1000)
    return f"job_{millis:013d}_{os.urandom(16).hex()}"


def is_valid_job_id(value: str) -> bool:
    """True when `value` has the exact job id format (checked before any lookup)."""
    return JOB_ID_PATTERN.fullmatch(value) is not None


def isoformat(timestamp: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds and a `Z`, as the design shows."""
    if timestamp is None:
        return None
    millis = int(timestamp * 1000)
    return f"{_second_prefix(millis // 1000)}.{millis % 1000:03d}Z"


@lru_cache(maxsize=4096)
def _second_prefix(seconds: int) -> str:
    # Status polls format the same few seconds over and over: the date part is worth caching.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(slots=True)
class Job:
    """One job. Times are epoch seconds; the result is kept as the JSON bytes the worker produced."""

    id: str
    endpoint: str
    payload: dict[str, Any]
    client: str
    timeout_seconds: float
    created_at: float
    status: JobStatus = JobStatus.PENDING
    progress: int = 0
    message: str = ""  # empty until the job says something of its own; the API words the default
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    delivered_at: float | None = None
    result_json: bytes | None = None  # encoded once in the worker; every fetch serves these bytes
    error: str | None = None
    end_reason: str | None = None  # an EndReason value once the job is final
    retry_count: int = 0
    request_id: str | None = None
    idempotency_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.updated_at:
            self.updated_at = self.created_at

    @property
    def duration_seconds(self) -> float | None:
        """Run time from start to finish, once both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """Everything a store persists: JSON-ready values, except the result, kept as its bytes."""
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "payload": self.payload,
            "client": self.client,
            "timeout_seconds": self.timeout_seconds,
            "created_at": self.created_at,
            "status": self.status.value,
            "progress": self.progress,
            "message": self.message,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "delivered_at": self.delivered_at,
            "result_json": self.result_json,
            "error": self.error,
            "end_reason": self.end_reason,
            "retry_count": self.retry_count,
            "request_id": self.request_id,
            "idempotency_key": self.idempotency_key,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        """The inverse of `to_dict`."""
        fields = dict(data)
        fields["status"] = JobStatus(fields["status"])
        return cls(**fields)
