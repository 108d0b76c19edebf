"""Background store writes (progress, "running" marks, outcomes): kept, awaited at shutdown, and their
failures logged once per outage instead of as "Task exception was never retrieved" for each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class BackgroundWrites:
    """Tasks the runner starts and does not await; a failure is logged at the first of a run of them."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self.tasks: set[asyncio.Task[None]] = set()
        self._failing = False

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run the coroutine as a task kept until it ends."""
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            if self._failing:
                self._log.warning("background job store writes succeed again")
            self._failing = False
            return
        if not self._failing:
            # Progress is best effort, and outcome writes retry on their own: one line per outage.
            self._log.warning("a background job store write failed (%s); further failures are not logged", error)
        self._failing = True
