"""Moves jobs from the pending queue into worker processes and records how they end."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from pebble import ProcessExpired

from jobs.estimates import DurationEstimator
from jobs.logs import log_event
from jobs.model import Job, JobStatus
from jobs.notify import ChangeNotifier
from jobs.pool import WorkerPool
from jobs.registry import EndpointRegistry
from jobs.store import JobStore
from jobs.worker import Outcome

Clock = Callable[[], float]


@dataclass(slots=True)
class RunningJob:
    """A job handed to the pool, with the future that ends when its worker does."""

    job: Job
    future: Future[Outcome]


@dataclass(frozen=True, slots=True)
class FinalState:
    """How a job ended: the status, the message for the client, and the raw result or error."""

    status: JobStatus
    message: str
    result_json: str | None = None
    error: str | None = None


class JobRunner:
    """Owns the dispatch loop: at most one running job per worker, the rest wait as pending."""

    def __init__(
        self,
        store: JobStore,
        pool: WorkerPool,
        registry: EndpointRegistry,
        estimator: DurationEstimator,
        notifier: ChangeNotifier,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._pool = pool
        self._registry = registry
        self._estimator = estimator
        self._notifier = notifier
        self._clock = clock
        self._running: dict[str, RunningJob] = {}
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._dispatching = True
        self._background: set[asyncio.Task[None]] = set()
        self.on_finished: list[Callable[[Job], None]] = []
        self.on_progress: list[Callable[[Job], None]] = []

    @property
    def busy_workers(self) -> int:
        """Worker slots taken by running jobs."""
        return len(self._running)

    @property
    def total_workers(self) -> int:
        """Worker slots in the pool."""
        return self._pool.size

    def worker_pids(self) -> list[int]:
        """PIDs of the live worker processes."""
        return self._pool.process_ids()

    def start(self) -> None:
        """Begin dispatching; call from the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._pool.start_progress_pump(self._progress_from_thread)
        self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="docjobs-dispatch")
        self.wake()

    def wake(self) -> None:
        """A job was queued or a worker freed up: look at the queue again."""
        self._wakeup.set()

    async def _dispatch_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._dispatch_available()
            except Exception:
                logging.getLogger("docjobs.runner").exception("dispatch failed; retrying")
                await asyncio.sleep(1)
                self.wake()

    async def _dispatch_available(self) -> None:
        while self._dispatching and len(self._running) < self._pool.size:
            now = self._clock()
            job = await self._store.claim_next(now)
            if job is None:
                return
            if now - job.created_at >= job.timeout_seconds:
                await self.finish(job, expired_while_waiting(job))
                continue
            self._submit(job)

    def _submit(self, job: Job) -> None:
        endpoint = self._registry.get(job.endpoint)
        future = self._pool.submit(endpoint.handler_ref, job.id, job.payload, job.timeout_seconds)
        self._running[job.id] = RunningJob(job, future)
        log_event(
            "job.running",
            job_id=job.id,
            endpoint=job.endpoint,
            request_id=job.request_id,
            queued_seconds=round((job.started_at or job.created_at) - job.created_at, 4),
        )
        self._notifier.notify(job.id)
        future.add_done_callback(partial(self._done_from_thread, job.id))

    def _done_from_thread(self, job_id: str, future: Future[Outcome]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._on_done, job_id, future)

    def _on_done(self, job_id: str, future: Future[Outcome]) -> None:
        running = self._running.pop(job_id, None)
        self.wake()
        if running is None or future.cancelled():
            return  # cancelled by a delete or by shutdown, which recorded the outcome themselves
        self._spawn(self.finish(running.job, _final_state(running.job, future)))

    def _progress_from_thread(self, job_id: str, percent: int, message: str | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._on_progress, job_id, percent, message)

    def _on_progress(self, job_id: str, percent: int, message: str | None) -> None:
        self._spawn(self._record_progress(job_id, percent, message))

    async def _record_progress(self, job_id: str, percent: int, message: str | None) -> None:
        job = await self._store.set_progress(job_id, percent, message, self._clock())
        if job is None:
            return  # a late event from a job that has ended or was deleted
        for callback in self.on_progress:
            callback(job)
        self._notifier.notify(job_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def finish(self, job: Job, final: FinalState) -> None:
        """Record a job's final state, log it, and wake whoever waits for it."""
        done = await self._store.finish(
            job.id,
            final.status,
            final.message,
            self._clock(),
            result_json=final.result_json,
            error=final.error,
        )
        if done is None:
            return  # deleted meanwhile
        duration = done.duration_seconds
        if final.status is JobStatus.COMPLETED and duration is not None:
            self._estimator.record(done.endpoint, duration)
        log_event(
            "job." + final.status.value,
            job_id=done.id,
            endpoint=done.endpoint,
            request_id=done.request_id,
            duration_seconds=duration,
            message=final.message,
            level=logging.INFO if final.status is JobStatus.COMPLETED else logging.WARNING,
        )
        for callback in self.on_finished:
            callback(done)
        self._notifier.notify(done.id)

    def cancel(self, job_id: str) -> bool:
        """Stop a running job's worker process; False when the job is not running here."""
        running = self._running.pop(job_id, None)
        if running is None:
            return False
        running.future.cancel()  # pebble stops the process that runs it and starts a fresh one
        self.wake()
        return True

    async def drain(self, grace_seconds: float) -> None:
        """Shutdown: start nothing new, let running jobs finish for a while, then stop them."""
        self._dispatching = False
        deadline = self._clock() + grace_seconds
        while self._running and self._clock() < deadline:
            await asyncio.sleep(0.05)
        for job_id, running in list(self._running.items()):
            self.cancel(job_id)
            await self.finish(
                running.job,
                FinalState(
                    JobStatus.FAILED,
                    "Job failed: the service shut down before the job finished",
                    error="service shut down",
                ),
            )
        while (job := await self._store.claim_next(self._clock())) is not None:
            await self.finish(
                job,
                FinalState(
                    JobStatus.FAILED,
                    "Job failed: the service shut down before the job started",
                    error="service shut down",
                ),
            )
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


def expired_while_waiting(job: Job) -> FinalState:
    """The final state of a job that never got a worker within its time limit."""
    return FinalState(
        JobStatus.EXPIRED,
        f"Job expired: it waited more than its {job.timeout_seconds:g} s time limit for a free worker",
        error="expired while pending",
    )


def _final_state(job: Job, future: Future[Outcome]) -> FinalState:
    try:
        kind, value, detail = future.result()
    except TimeoutError:
        return FinalState(
            JobStatus.EXPIRED,
            f"Job expired: it ran longer than its {job.timeout_seconds:g} s time limit, "
            "so its worker process was stopped",
            error="timeout",
        )
    except ProcessExpired as exc:
        return FinalState(JobStatus.FAILED, f"Job failed: {_describe_death(exc.exitcode)}", error="worker process died")
    except CancelledError:  # pragma: no cover - filtered out by the caller
        return FinalState(JobStatus.FAILED, "Job failed: cancelled", error="cancelled")
    except Exception as exc:
        return FinalState(
            JobStatus.FAILED,
            f"Job failed: the worker pool could not run it ({exc})",
            error=type(exc).__name__,
        )
    if kind == "ok":
        return FinalState(JobStatus.COMPLETED, "Job completed successfully", result_json=value)
    return FinalState(JobStatus.FAILED, f"Job failed: {detail}", error=detail)


def _describe_death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (likely killed for using too much memory)" if name == "SIGKILL" else ""
        return f"the worker process died from {name}{hint}"
    return f"the worker process exited unexpectedly with code {exitcode}"
