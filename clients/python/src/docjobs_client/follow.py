"""Following a job until it ends: long polls while the service holds them, else polls with backoff."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from docjobs_client.errors import RequestRejected, TooManyJobs
from docjobs_client.models import JobSnapshot

ProgressCallback = Callable[[JobSnapshot], Awaitable[None] | None]
StatusFetcher = Callable[[str, float | None, str | None], Awaitable[JobSnapshot]]


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How `run` and `wait` follow a job."""

    long_poll: bool = True
    # The service holds a long poll for at most 30 s; staying under it avoids a 400.
    long_poll_seconds: float = 25.0
    # None: poll at the service's Retry-After (1 s when it sends none).
    interval: float | None = None
    # Unchanged answers stretch the interval by half each time, up to this.
    max_interval: float = 5.0


@dataclass(slots=True)
class Watch:
    """What is known about a followed job, for a DeadlineExceeded raised from outside."""

    deadline_at: float | None = None
    job_id: str | None = None
    last: JobSnapshot | None = None

    def remaining(self) -> float | None:
        """Seconds to the deadline, or None without one."""
        if self.deadline_at is None:
            return None
        return self.deadline_at - asyncio.get_running_loop().time()


class Follower:
    """Asks for a job's status until the job is over, reporting each change."""

    def __init__(
        self,
        fetch: StatusFetcher,
        watch: Watch,
        policy: PollPolicy,
        hint: float | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self._fetch = fetch
        self._watch = watch
        self._policy = policy
        self._long_poll = policy.long_poll
        self._base = policy.interval or hint or 1.0
        self._interval = self._base
        self._on_progress = on_progress

    async def until_done(self, job_id: str) -> JobSnapshot:
        """The job's final status (completed, failed or expired)."""
        loop = asyncio.get_running_loop()
        last: JobSnapshot | None = None
        # The first question is a plain one: the caller learns the state at once.
        wait: float | None = None
        while True:
            began = loop.time()
            try:
                # With the last `updated_at` seen, a change between two long polls is answered at once.
                status = await self._fetch(job_id, wait, last.raw.get("updated_at") if last else None)
            except (TooManyJobs, RequestRejected) as error:
                if wait is None:
                    raise
                # Too many long polls at once (429), or a service without them (400): poll instead.
                self._long_poll = False
                await asyncio.sleep(error.retry_after or self._interval)
                wait = None
                continue
            changed = last is None or status.view != last.view
            self._watch.last = last = status
            if changed:
                await self._report(status)
            if not status.state.is_active:
                return status
            if wait is not None and not changed and loop.time() - began < wait / 2:
                # A service that holds long polls answers early only on a change: this one ignores `wait`.
                self._long_poll = False
            wait = self._long_poll_seconds()
            if wait is None:
                self._interval = self._base if changed else min(self._interval * 1.5, self._max_interval)
                await asyncio.sleep(self._interval)

    @property
    def _max_interval(self) -> float:
        return max(self._policy.max_interval, self._base)

    def _long_poll_seconds(self) -> float | None:
        if not self._long_poll:
            return None
        remaining = self._watch.remaining()
        seconds = (
            self._policy.long_poll_seconds if remaining is None else min(self._policy.long_poll_seconds, remaining - 1)
        )
        # Under a second to go, a plain poll is as good.
        return float(int(seconds)) if seconds >= 1 else None

    async def _report(self, status: JobSnapshot) -> None:
        if self._on_progress is None:
            return
        outcome = self._on_progress(status)
        if inspect.isawaitable(outcome):
            await outcome
