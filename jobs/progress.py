"""Progress reporting from inside a handler running in a worker process."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol


class ProgressSink(Protocol):
    """Where progress events go: the worker's own pipe to the server in a real worker."""

    def put(self, item: tuple[str, int, str | None]) -> None: ...


@dataclass(slots=True)
class _Reporter:
    job_id: str
    sink: ProgressSink
    last_sent: tuple[int, str | None] | None = field(default=None)

    def report(self, percent: int, message: str | None) -> None:
        # Identical consecutive reports are dropped: a handler that reports inside a tight loop
        # must not flood the manager process with events that change nothing.
        if self.last_sent == (percent, message):
            return
        self.last_sent = (percent, message)
        # Progress is best effort: a report that cannot be delivered must never fail the job.
        with contextlib.suppress(Exception):
            self.sink.put((self.job_id, percent, message))


# A context variable, not a global: each job sets it for the duration of one handler call.
_current_reporter: ContextVar[_Reporter | None] = ContextVar("docjobs_progress", default=None)

MAX_MESSAGE_LENGTH = 500  # progress messages are shown in status answers and dashboards, not logs


def report_progress(percent: float, message: str | None = None) -> None:
    """Report how far the current job is (0-100), with an optional message.

    A no-op when the handler runs outside a job (a unit test, a direct call in the same process).
    """
    reporter = _current_reporter.get()
    if reporter is None:
        return
    if not isinstance(percent, (int, float)) or math.isnan(percent):
        raise TypeError(f"progress must be a number between 0 and 100, not {percent!r}")
    clamped = int(min(100.0, max(0.0, float(percent))))
    text = None if message is None else str(message)[:MAX_MESSAGE_LENGTH]
    reporter.report(clamped, text)


@contextlib.contextmanager
def reporting_to(job_id: str, sink: ProgressSink) -> Iterator[None]:
    """Route `report_progress` calls made inside the block to `sink`, tagged with `job_id`."""
    token = _current_reporter.set(_Reporter(job_id, sink))
    try:
        yield
    finally:
        _current_reporter.reset(token)
