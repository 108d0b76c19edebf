"""Running handlers: the worker process pool, its worker side, pipes and the parent lifeline."""

from __future__ import annotations

from jobs.pool.process import Task, TaskEnd, WorkerPool

__all__ = ["Task", "TaskEnd", "WorkerPool"]
