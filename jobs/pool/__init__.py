"""Running handlers: the executor protocol and its implementations (process pool, in-process, null)."""

from __future__ import annotations

from jobs.outcomes import TaskEnd
from jobs.pool.executor import Executor, ExecutorListener, ProgressCallback, Task
from jobs.pool.inprocess import InProcessExecutor
from jobs.pool.null import NullExecutor
from jobs.pool.process import WorkerPool

__all__ = [
    "Executor",
    "ExecutorListener",
    "InProcessExecutor",
    "NullExecutor",
    "ProgressCallback",
    "Task",
    "TaskEnd",
    "WorkerPool",
]
