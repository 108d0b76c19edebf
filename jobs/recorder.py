"""Writes what happens to a job into the store, and tells everyone who waits for it.

The runner decides what happens (dispatch, limits, endings); this records it: the "running" mark,
progress, the final state, with retries while the store is unreachable, then the log line, the
observers, local waiters and, with a shared store, the other instances.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from jobs.errors import StoreUnavailable
from jobs.estimates import DurationEstimator
from jobs.logs import log_event
from jobs.model import Clock, Job, JobStatus
from jobs.notify import ChangeNotifier
from jobs.outcomes import FinalState
from jobs.store import JobStore

log = logging.getLogger("docjobs.runner")

# The longest pause between retries of a job's start or outcome while the store is unreachable.
RETRY_PAUSE_MAX_SECONDS = 5.0


class TaskStart(NamedTuple):
    """When and where a job started, for a job whose start and end are recorded in one write."""

    at: float
    worker_pid: int | None


class JobRecorder:
    """Records job transitions in the store and announces them."""

    def __init__(
        self, store: JobStore, estimator: DurationEstimator, notifier: ChangeNotifier, clock: Clock = time.time
    ) -> None:
        self._store = store
        self._estimator = estimator
        self._notifier = notifier
        self._clock = clock
        # Observers (metrics, dashboards): called on the event loop, must not block.
        self.on_started: list[Callable[[Job], None]] = []
        self.on_finished: list[Callable[[Job], None]] = []
        self.on_progress: list[Callable[[Job], None]] = []

    async def running(self, job_id: str, started_at: float, worker_pid: int | None) -> Job | None:
        """Mark the job running; None when it is no longer pending (deleted, expired)."""
        job = await self.persist(lambda: self._store.mark_running(job_id, started_at))
        if job is not None:
            self._started(job, worker_pid)
        return job

    def _started(self, job: Job, worker_pid: int | None) -> None:
        for callback in self.on_started:
            callback(job)
        log_event(
            "job.running",
            job_id=job.id,
            endpoint=job.endpoint,
            request_id=job.request_id,
            worker_pid=worker_pid,
            queued_seconds=round((job.started_at or 0) - job.created_at, 4),
        )

    async def progress(self, job_id: str, percent: int, message: str | None) -> bool:
        """Record progress of a running job; False when the store does not hold it as running."""
        job = await self._store.set_progress(job_id, percent, message, self._clock())
        if job is None:
            return False
        for callback in self.on_progress:
            callback(job)
        await self.changed(job_id)
        return True

    async def finish(self, job: Job, final: FinalState, start: TaskStart | None = None) -> None:
        """Record a job's final state, log it, and wake whoever waits for it.

        With a `start`, the job ended before it was marked running: this one write records both.
        """
        finished_at = self._clock()
        done = await self.persist(
            lambda: self._store.finish(
                job.id,
                final.status,
                final.message,
                finished_at,
                result_json=final.result_json,
                error=final.error,
                reason=final.reason,
                started_at=None if start is None else start.at,
            )
        )
        if done is None:
            return  # deleted meanwhile
        if start is not None:
            self._started(done, start.worker_pid)
        duration = done.duration_seconds
        if final.status is JobStatus.COMPLETED and duration is not None:
            self._estimator.record(done.endpoint, duration)
        level = logging.INFO if final.status is JobStatus.COMPLETED else logging.WARNING
        # A handler's message may quote the payload or the file: the log names the exception's type
        # and where it was raised; the message itself goes only to the job's owner.
        said = {"message": final.message} if final.error_type is None else {}
        log_event(
            "job." + final.status.value,
            job_id=done.id,
            endpoint=done.endpoint,
            request_id=done.request_id,
            duration_seconds=duration,
            error_type=final.error_type,
            where=final.where,
            level=level,
            **said,
        )
        for callback in self.on_finished:
            callback(done)
        await self.changed(done.id)

    async def changed(self, job_id: str) -> None:
        """Wake this instance's waiters, and announce the change to the others sharing the store."""
        self._notifier.notify(job_id)
        # Long polls and event streams on other instances learn of the change through the store.
        if self._store.shared and not self._store.announces_writes:
            try:
                await self._store.publish("changed", job_id)
            except Exception as exc:  # the change itself is stored; pollers still see it
                log.warning("could not announce a change of %s: %s", job_id, exc)

    async def persist(self, write: Callable[[], Awaitable[Job | None]]) -> Job | None:
        """Run a store write that must not be lost, retrying for as long as the store is unreachable.

        A job's outcome exists only here until it is stored: giving up would leave the job running
        forever. It is never abandoned: once another instance has taken the job over (the lease rules,
        which wait for a lease of healthy heartbeats after an outage), the store refuses the write
        (fenced by attempt) and this returns None, as for a deleted job. Logged once per outage.
        """
        delay, failing_since = 0.1, None
        while True:
            try:
                written = await write()
            except StoreUnavailable as exc:
                if failing_since is None:
                    failing_since = self._clock()
                    log.warning("a job store write failed; retrying until it lands: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_PAUSE_MAX_SECONDS)
                continue
            if failing_since is not None:
                log.warning("a job store write landed after %.1f s of retries", self._clock() - failing_since)
            return written
