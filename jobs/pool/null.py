"""The executor of an API-only instance: it runs nothing, so every job waits for a worker instance."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jobs.pool.executor import ExecutorListener, ProgressCallback, Task


class NullExecutor:
    """No slots: the runner claims nothing from the shared queue, and no job is ever sent here."""

    size = 0
    capacity = 0
    runs_jobs = False

    @property
    def process_ids(self) -> list[int]:
        """No worker processes."""
        return []

    async def start(self, listener: ExecutorListener, on_progress: ProgressCallback) -> None:
        """Nothing to start."""

    def send(self, task: Task, may_queue_behind: Callable[[Sequence[Task]], bool]) -> bool:
        """Never takes a task."""
        return False

    def cancel(self, task: Task) -> bool:
        """Nothing runs here to stop."""
        return False

    async def close(self) -> None:
        """Nothing to release."""
