"""What crosses a worker's pipe, both ways. Plain frozen dataclasses, pickled by reference.

Outcomes travel as text, never as handler exception objects: an exception class with a custom
__init__ may not survive pickling, and then the job would lose its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class RunTask:
    """Server to worker: run this handler on this payload."""

    job_id: str
    handler_ref: str
    payload: dict[str, Any]


# The error type of a handler that hit its worker's memory limit (RLIMIT_AS): its worker is replaced.
OUT_OF_MEMORY = "MemoryError"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one handler call produced: its result's JSON, encoded once here, or its error."""

    kind: Literal["ok", "error"]
    value: str = ""  # "error": the exception's type name
    detail: str = ""  # "error": the exception's message
    result: bytes = b""  # "ok": the result as UTF-8 JSON, held and served as these very bytes


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """Worker to server: the handler of `job_id` begins now (its time limit counts from `at`)."""

    job_id: str
    at: float


@dataclass(frozen=True, slots=True)
class TaskDone:
    """Worker to server: the handler of `job_id` returned or raised."""

    job_id: str
    outcome: Outcome


WorkerMessage = TaskStarted | TaskDone
