"""The execution seam: what the runner needs from whatever runs handlers, and the task it hands over.

Three executors implement it: the worker process pool (`jobs.pool.process`), an in-process one for
tests (`jobs.pool.inprocess`) and a null one for an API-only instance (`jobs.pool.null`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from jobs.model import Job
from jobs.outcomes import TaskEnd

# (job id, percent, message); may be called from any thread.
ProgressCallback = Callable[[str, int, "str | None"], None]
KillReason = Literal["timeout", "cancelled", "memory"]


@dataclass(eq=False, slots=True)
class Task:
    """One job handed to an executor; the executor records where and when it runs."""

    job: Job
    handler_ref: str
    started_at: float | None = None
    cancelled: bool = False
    kill_reason: KillReason | None = None
    timer: asyncio.TimerHandle | None = None
    worker_pid: int | None = None
    marked_running: bool = False  # set by the runner once the store says the job runs


class ExecutorListener(Protocol):
    """What an executor tells its owner (the runner); called on the event loop."""

    def task_started(self, task: Task) -> None:
        """A task's handler began; its time limit counts from now."""

    def task_ended(self, task: Task, end: TaskEnd) -> None:
        """A started task ended: returned, raised, timed out, or its process died."""

    def task_returned(self, task: Task) -> None:
        """A task that never started came back (its worker died): it may run elsewhere."""

    def capacity_freed(self) -> None:
        """The executor can take more tasks."""


class Executor(Protocol):
    """Runs handlers for the runner: a fixed number of slots, each running one task at a time."""

    @property
    def size(self) -> int:
        """Tasks that can run at the same time (worker processes)."""

    @property
    def capacity(self) -> int:
        """Most tasks held at once, running and waiting inside workers."""

    @property
    def process_ids(self) -> list[int]:
        """PIDs of the live worker processes (empty when handlers do not run in processes)."""

    @property
    def runs_jobs(self) -> bool:
        """False for an executor that never runs anything (an API-only instance)."""

    async def start(self, listener: ExecutorListener, on_progress: ProgressCallback) -> None:
        """Get ready to run tasks, reporting to `listener` and progress to `on_progress`."""

    def send(self, task: Task, may_queue_behind: Callable[[Sequence[Task]], bool]) -> bool:
        """Take the task now, or queue it behind tasks `may_queue_behind` accepts; False when full."""

    def cancel(self, task: Task) -> bool:
        """Stop a task; True when a running handler was stopped."""

    async def close(self) -> None:
        """Stop everything and release the resources."""
