"""What crosses a worker's pipe, both ways: typed dataclasses in the code, plain tuples on the wire.

Pickling a tuple of strings costs a few microseconds; a dataclass instance costs several times
as much (the class reference is looked up on every dump and load; bench/bench_messages.py measures
it), and every job crosses the pipe three times. So each message converts itself to a tuple at the
pipe (`to_wire`) and back (`from_wire` / `worker_message`), and nothing else sees tuples.
Outcomes travel as text, never as handler exception objects: an exception class with a custom
__init__ may not survive pickling, and then the job would lose its message.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any, Literal

Wire = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RunTask:
    """Server to worker: run this handler on this payload."""

    job_id: str
    handler_ref: str
    payload: dict[str, Any]

    def to_wire(self) -> Wire:
        """The tuple that is pickled."""
        return (self.job_id, self.handler_ref, self.payload)

    @classmethod
    def from_wire(cls, wire: Wire) -> RunTask:
        """The message `to_wire` made."""
        return cls(*wire)


# The error type of a handler that hit its worker's memory limit (RLIMIT_AS): its worker is replaced.
OUT_OF_MEMORY = "MemoryError"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one handler call produced: its result's JSON, encoded once here, or its error."""

    kind: Literal["ok", "error"]
    value: str = ""  # "error": the exception's type name
    detail: str = ""  # "error": the exception's message
    where: str = ""  # "error": the module:line it was raised at
    # "ok": the result as UTF-8 JSON. In the worker, the bytearray it was built in (never copied to
    # bytes); once across the pipe, bytes, held and served as these very bytes.
    result: bytes | bytearray = b""


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """Worker to server: the handler of `job_id` begins now (its time limit counts from `at`)."""

    job_id: str
    at: float

    def to_wire(self) -> Wire:
        """The tuple that is pickled."""
        return ("started", self.job_id, self.at)


@dataclass(frozen=True, slots=True)
class TaskDone:
    """Worker to server: the handler of `job_id` returned or raised."""

    job_id: str
    outcome: Outcome

    def to_wire(self) -> Wire:
        """The tuple that is pickled."""
        outcome = self.outcome
        result = outcome.result
        # A read-only buffer pickles (protocol 5) as bytes, from the bytearray itself: the server gets
        # bytes, as it always did, and the worker makes no bytes copy of the result to send it.
        wire_result = pickle.PickleBuffer(memoryview(result).toreadonly()) if isinstance(result, bytearray) else result
        return ("done", self.job_id, outcome.kind, outcome.value, outcome.detail, outcome.where, wire_result)


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """Worker to server: the handler of `job_id` reports how far it is."""

    job_id: str
    percent: int
    message: str | None

    def to_wire(self) -> Wire:
        """The tuple that is pickled."""
        return ("progress", self.job_id, self.percent, self.message)


WorkerMessage = TaskStarted | TaskDone | TaskProgress


def worker_message(wire: Wire) -> WorkerMessage:
    """A worker's message from the tuple its `to_wire` made."""
    if wire[0] == "started":
        return TaskStarted(wire[1], wire[2])
    if wire[0] == "progress":
        return TaskProgress(wire[1], wire[2], wire[3])
    return TaskDone(wire[1], Outcome(wire[2], wire[3], wire[4], wire[5], wire[6]))
