"""Wake coroutines waiting for a job to change (direct calls, long polls)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Watch:
    """Interest in one job's next change, registered when the watch began."""

    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    async def wait(self, timeout: float) -> bool:
        """Wait until the job changes (at once if it changed since the watch began); False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
            return True
        except TimeoutError:
            return False


class ChangeNotifier:
    """One event per watched job; `notify` wakes every waiter of that job once."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._waiters: dict[str, int] = {}

    def notify(self, job_id: str) -> None:
        """The job changed: wake whoever waits for it."""
        event = self._events.pop(job_id, None)
        if event is not None:
            event.set()

    def waiters(self, job_id: str) -> int:
        """How many coroutines wait for the job now."""
        return self._waiters.get(job_id, 0)

    @contextmanager
    def watch(self, job_id: str) -> Iterator[Watch]:
        """Watch for the job's next change from now on.

        Begin the watch before reading the job: a change that lands while the read is in flight (on a
        shared store the read is a round trip) then ends the wait at once, instead of being missed and
        leaving the waiter asleep until its timeout.
        """
        event = self._events.setdefault(job_id, asyncio.Event())
        self._waiters[job_id] = self._waiters.get(job_id, 0) + 1
        try:
            yield Watch(event)
        finally:
            self._waiters[job_id] -= 1
            if not self._waiters[job_id]:
                del self._waiters[job_id]
                if self._events.get(job_id) is event:
                    del self._events[job_id]

    async def wait(self, job_id: str, timeout: float) -> bool:
        """Wait until the job changes; False when `timeout` passed first."""
        with self.watch(job_id) as change:
            return await change.wait(timeout)
