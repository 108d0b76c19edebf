"""Wake coroutines waiting for a job to change (direct calls, long polls)."""

from __future__ import annotations

import asyncio


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

    async def wait(self, job_id: str, timeout: float) -> bool:
        """Wait until the job changes; False when `timeout` passed first."""
        event = self._events.setdefault(job_id, asyncio.Event())
        self._waiters[job_id] = self._waiters.get(job_id, 0) + 1
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters[job_id] -= 1
            if not self._waiters[job_id]:
                del self._waiters[job_id]
                if self._events.get(job_id) is event:
                    del self._events[job_id]
