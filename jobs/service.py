"""The jobs API's logic, independent of HTTP: start, inspect, collect, delete, list, count."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from jobs.budget import Budget, Reservation
from jobs.delivery import LateDeliveryMarks
from jobs.errors import (
    InvalidJobId,
    JobNotFound,
    JobNotReady,
    ShuttingDown,
    StoreUnavailable,
)
from jobs.estimates import DurationEstimator, Estimate
from jobs.figures import FleetFigures, LocalFigures
from jobs.limits import ConcurrencyLimit
from jobs.logs import log_event
from jobs.model import Clock, Job, JobStatus, is_valid_job_id, isoformat, new_job_id
from jobs.notify import ChangeNotifier
from jobs.outcomes import expired_while_waiting, outcome_error
from jobs.readiness import PoolShortfall
from jobs.registry import Endpoint, EndpointRegistry
from jobs.runner import JobRunner
from jobs.settings import Settings
from jobs.store import Admission, Counts, JobPage, JobStore
from jobs.store.results import StoredResult

# An estimate may use a queue length this old: on Redis the start's own insertion has just read it.
ESTIMATE_QUEUE_MAX_AGE_SECONDS = 0.5
# Payloads larger than this are validated in a thread so that a big base64 file cannot stall the loop.
VALIDATE_INLINE_MAX_BYTES = 64 * 1024
# How long a status poll waits for this instance's write of the job's outcome (a round trip, normally).
OUTCOME_WAIT_SECONDS = 0.05

log = logging.getLogger("docjobs.service")


@dataclass(frozen=True, slots=True)
class StartedJob:
    """A freshly queued job and how long it is expected to take."""

    job: Job
    estimate: Estimate


class JobService:
    """Everything the HTTP routes ask of the job system, in one place."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        runner: JobRunner,
        registry: EndpointRegistry,
        estimator: DurationEstimator,
        notifier: ChangeNotifier,
        clock: Clock = time.time,
        figures: FleetFigures | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.registry = registry
        self.estimator = estimator
        self.notifier = notifier
        self._clock = clock
        self._accepting = True
        self.late_marks = LateDeliveryMarks(store)  # delivery marks the store refused, written later
        self._pool_shortfall = PoolShortfall(clock)
        self.watches = ConcurrencyLimit(
            "long polls or event streams", settings.jobs.max_watches_per_client, settings.jobs.max_watches
        )
        self.budget = Budget.from_settings(settings.jobs, settings.server)
        self.finished_by_endpoint: Counter[tuple[str, str]] = Counter()
        # Observers (metrics): called on the event loop, must not block.
        self.on_created: list[Callable[[Job], None]] = []
        self.on_sweep: list[Callable[[dict[str, int]], None]] = []
        self.on_started = runner.on_started  # a worker began a job
        self.on_finished = runner.on_finished  # a job reached its final state
        runner.on_finished.append(self._count_finished)
        # Workers, outcomes and durations for stats and estimates: the whole fleet's with a shared store.
        self.figures: FleetFigures = figures or LocalFigures(runner, estimator, self.finished_by_endpoint)

    def _count_finished(self, job: Job) -> None:
        self.finished_by_endpoint[(job.endpoint, job.status.value)] += 1

    async def start(
        self,
        endpoint_path: Any,
        payload: Any,
        client: str,
        request_id: str | None,
        payload_size: int = 0,
        idempotency_key: str | None = None,
    ) -> StartedJob:
        """Validate and queue a job; raises on a bad request or when a limit is reached."""
        if not self._accepting:
            raise ShuttingDown("the service is shutting down; try another instance or retry shortly", retry_after=5)
        endpoint = self.registry.get(endpoint_path)
        if payload_size > VALIDATE_INLINE_MAX_BYTES:
            await asyncio.to_thread(endpoint.validate, payload)
        else:
            endpoint.validate(payload)
        now = self._clock()
        job = Job(
            id=new_job_id(now),
            endpoint=endpoint.path,
            payload=payload,
            client=client,
            timeout_seconds=endpoint.timeout_seconds,
            created_at=now,
            request_id=request_id,
            idempotency_key=idempotency_key,
        )
        jobs = self.settings.jobs
        # The budgets are checked by the store, atomically with the insertion (on every instance).
        reserve = Reservation(jobs.max_result_bytes, payload_size)
        # The runner hands it to an idle worker before this answers (see JobRunner.add).
        stored = await self.runner.add(job, Admission(jobs.per_client_limit, jobs.max_pending, self.budget, reserve))
        if stored is not job:
            log_event("job.start_replayed", job_id=stored.id, client=client, request_id=request_id)
            return StartedJob(stored, await self._estimate(endpoint))
        for callback in self.on_created:
            callback(job)
        log_event("job.created", job_id=job.id, endpoint=job.endpoint, client=client, request_id=request_id)
        if self.store.shared and not self.store.announces_writes:
            await self.store.publish("queued", job.id)
        return StartedJob(job, await self._estimate(endpoint))

    async def _estimate(self, endpoint: Endpoint) -> Estimate:
        pending = await self.store.pending_count(max_age=ESTIMATE_QUEUE_MAX_AGE_SECONDS)
        ahead = max(0, pending - 1 - self.free_workers())
        return self.estimator.estimate(endpoint.path, endpoint.estimated_seconds, ahead, self.figures.workers_total())

    def free_workers(self) -> int:
        """Worker slots not running a job right now."""
        return max(0, self.runner.total_workers - self.runner.busy_workers)

    @property
    def accepting(self) -> bool:
        """False once shutdown began: new jobs are refused."""
        return self._accepting

    @property
    def total_workers(self) -> int:
        """Worker processes of this instance (0 on an API-only one)."""
        return self.runner.total_workers

    @property
    def busy_workers(self) -> int:
        """Worker processes running a job right now."""
        return self.runner.busy_workers

    def worker_pids(self) -> list[int]:
        """PIDs of this instance's live worker processes."""
        return self.runner.worker_pids()

    async def counts(self, owner: str | None = None) -> Counts:
        """Jobs held (only the owner's when there is one), by status and endpoint, and the bytes of results."""
        return await self.store.counts(owner)

    async def pending_count(self) -> int:
        """Jobs waiting for a worker (on every instance, with a shared store)."""
        return await self.store.pending_count()

    async def readiness_problems(self) -> list[str]:
        """Why this instance should not get traffic now; empty when it is ready."""
        problems = []
        if not self._accepting:
            problems.append("shutting down")
        if self.runner.runs_jobs:
            pool = self._pool_shortfall.problem(len(self.runner.worker_pids()), self.runner.total_workers)
            if pool is not None:
                problems.append(pool)
        try:
            await self.store.pending_count()
        except Exception as exc:  # any store failure means not ready; where it failed goes only to the log
            log.warning("readiness: the job store did not answer: %s", exc)
            problems.append("job store unavailable")
        return problems

    async def drain(self, grace_seconds: float) -> None:
        """Shutdown: refuse new jobs, give running ones `grace_seconds`, then stop them."""
        self._accepting = False
        log_event(
            "service.draining", grace_seconds=grace_seconds, running=self.runner.busy_workers, level=logging.WARNING
        )
        await self.runner.drain(grace_seconds)

    async def get(self, job_id: str, owner: str | None = None) -> Job:
        """The job with this id; InvalidJobId for a malformed id, JobNotFound when there is none.

        With an `owner`, another client's job is not found either: its existence is not revealed.
        """
        return await self._find(job_id, owner, self.store.get)

    async def status(self, job_id: str, owner: str | None = None) -> Job:
        """`get` for a status poll, which the store may answer from what it knows to be current.

        When this instance is writing the job's outcome right now, the answer waits for that write (at
        most OUTCOME_WAIT_SECONDS): on a shared store the write is a round trip, and answering "running"
        just before it lands would cost the client another poll. In memory the write never yields, so
        no poll ever finds one in flight.
        """
        if self.runner.finishing(job_id):
            await self.notifier.wait(job_id, OUTCOME_WAIT_SECONDS)
        return await self._find(job_id, owner, self.store.get_status)

    async def _find(self, job_id: str, owner: str | None, read: Callable[[str], Awaitable[Job | None]]) -> Job:
        if not is_valid_job_id(job_id):
            raise InvalidJobId("job ids look like job_<13 digits>_<32 lowercase hex characters>")
        job = await read(job_id)
        grace = self.settings.jobs.result_grace_seconds
        if job is not None and job.delivered_at is not None and self._clock() - job.delivered_at >= grace:
            await self.store.delete(job_id)  # the grace period is over: the result is gone for good
            job = None
        if job is None or (owner is not None and job.client != owner):
            raise _not_found(job_id)
        return job

    async def peek(self, job_id: str, owner: str | None = None) -> Job:
        """The job's outcome as `collect` gives it, without delivering it (for `HEAD /result`).

        A link-prefetching proxy or a monitor may send HEAD: that must not start the grace period.
        """
        job = await self.get(job_id, owner)
        if job.status.is_active:
            raise JobNotReady("Job still processing", job_id=job.id, status=job.status.value, retry_after=1)
        error = outcome_error(job)
        if error is not None:
            raise error
        return job

    async def collect(self, job_id: str, owner: str | None = None) -> tuple[Job, StoredResult]:
        """The job's outcome for `/result`: a finished job is delivered, then kept only for the grace.

        Returns the job and its result, to be streamed (the Redis store reads it a range at a time).
        A final state is final, so the status poll's copy of it serves (`status`): the delivery then
        checks in the same round trip that the record is still there, and returns the delivery time it
        keeps. A job the copy shows active is read again, as it may have ended since.
        """
        job = await self.status(job_id, owner)
        if job.status.is_active:
            job = await self.get(job_id, owner)
        if job.status.is_active:
            raise JobNotReady("Job still processing", job_id=job.id, status=job.status.value, retry_after=1)
        first = job.delivered_at is None
        # The same time is kept here and in the store, so a retried fetch gets an identical answer.
        job.delivered_at, result = await self._deliver(job, first)
        if first:
            log_event(
                "job.result_retrieved",
                job_id=job.id,
                endpoint=job.endpoint,
                status=job.status.value,
                request_id=job.request_id,
            )
        error = outcome_error(job)
        if error is not None:
            raise error
        return job, result if result is not None else await self.result_of(job)

    async def result_of(self, job: Job) -> StoredResult:
        """The finished job's result, to be streamed (the Redis store reads it a range at a time)."""
        return await self.store.open_result(job)

    async def _deliver(self, job: Job, first: bool) -> tuple[float, StoredResult | None]:
        # A mark refused earlier and still waiting keeps its time: every fetch answers one retrieved_at.
        now = self.late_marks.served_at(job.id) or job.delivered_at or self._clock()
        try:
            delivered = await self.store.deliver(job, now)
        except StoreUnavailable as exc:
            if first:
                # The outcome is in hand: serve it. The mark is only bookkeeping (the record is kept for
                # its retention instead of the grace), written in the background once Redis takes writes.
                log_event("job.delivery_unrecorded", job_id=job.id, reason=str(exc), level=logging.WARNING)
                self.late_marks.add(job.id, now)
            return now, None
        if delivered is None:  # removed since it was read (deleted, swept): its result must not pass for null
            raise _not_found(job.id)
        kept, result = delivered
        if kept != now and self._clock() - kept >= self.settings.jobs.result_grace_seconds:
            await self.store.delete(job.id)  # delivered elsewhere before this copy knew: its grace is over
            raise _not_found(job.id)
        return kept, result

    async def discard(self, job_id: str) -> None:
        """Forget a job's record at once, whatever its state (its outcome was delivered another way)."""
        await self.store.delete(job_id)

    async def delete(self, job_id: str, owner: str | None = None) -> Job:
        """Cancel a job: a running one has its worker process stopped, a pending one leaves the queue."""
        job = await self.get(job_id, owner)
        held_here = self.runner.holds(job.id)
        was_running = self.runner.cancel(job.id)
        deleted = await self.store.delete(job.id)
        if self.store.shared and not held_here:
            await self.store.publish("cancel", job.id)  # the instance running it stops its worker
        if deleted is None:
            raise JobNotFound(f"job {job_id!r} not found")
        self.notifier.notify(job.id)
        log_event(
            "job.deleted",
            job_id=job.id,
            endpoint=job.endpoint,
            status=deleted.status.value,
            worker_stopped=was_running,
            request_id=job.request_id,
        )
        return deleted

    async def wait_for_change(
        self, job_id: str, seconds: float, owner: str | None = None, since: str | None = None
    ) -> Job:
        """The job once its status, progress or message differs from now, or after `seconds`.

        `since` is the `updated_at` of the caller's last answer: a job changed after it answers at once,
        so a change that happened between two long polls is never missed.
        """
        deadline = self._clock() + seconds
        before: tuple[JobStatus, int, str] | None = None
        while True:
            with self.notifier.watch(job_id) as change:  # before the read: a change during it is not missed
                job = await self.status(job_id, owner)
                if before is None:
                    if not job.status.is_active or (since is not None and isoformat(job.updated_at) != since):
                        return job
                    before = (job.status, job.progress, job.message)
                elif (job.status, job.progress, job.message) != before:
                    return job
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return job
                await change.wait(remaining)

    async def list_jobs(self, status: JobStatus | None, owner: str | None = None) -> list[Job]:
        """Jobs held, oldest first; only the owner's when there is one."""
        jobs = await self.store.list_jobs(status)
        return jobs if owner is None else [job for job in jobs if job.client == owner]

    async def page_jobs(self, status: JobStatus | None, owner: str | None, cursor: int, limit: int) -> JobPage:
        """One page of the jobs held, oldest first, from `cursor` (0 first); only the owner's when there is one."""
        return await self.store.page_jobs(status, owner, cursor, limit)

    async def wait_until_finished(self, job_id: str, timeout: float) -> Job | None:
        """Wait for a job to reach a final state; None when it disappeared."""
        deadline = self._clock() + timeout
        while True:
            with self.notifier.watch(job_id) as change:  # before the read: a change during it is not missed
                job = await self.store.get(job_id)
                if job is None:
                    return job
                if not job.status.is_active:
                    if job.status is JobStatus.COMPLETED and job.result_json is None:
                        job.result_json = await self.store.read_result(job_id)  # Redis keeps it apart
                    return job
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return job
                await change.wait(min(remaining, 1.0))

    async def sweep(self) -> dict[str, int]:
        """One cleanup pass: drop old jobs and delivered results, expire jobs that waited too long."""
        now = self._clock()
        jobs = self.settings.jobs
        report = await self.store.sweep(now, jobs.retention_seconds, jobs.result_grace_seconds)
        for job in report.expired_pending:
            await self.runner.finish(job, expired_while_waiting(job))
        summary = {
            "removed_finished": report.removed_finished,
            "removed_delivered": report.removed_delivered,
            "expired_pending": len(report.expired_pending),
        }
        for callback in self.on_sweep:
            callback(summary)
        log_event("cleanup.sweep", **summary)
        return summary


def _not_found(job_id: str) -> JobNotFound:
    return JobNotFound(
        f"job {job_id!r} not found: it never existed, was deleted, "
        "expired from storage, or its result was already retrieved"
    )
