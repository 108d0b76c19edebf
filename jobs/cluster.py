"""What an instance does to act as one service with the others that share its store."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from jobs.errors import EndpointNotAllowed
from jobs.logs import log_event
from jobs.model import Job, JobStatus
from jobs.notify import ChangeNotifier
from jobs.outcomes import worker_lost
from jobs.registry import EndpointRegistry
from jobs.runner import JobRunner
from jobs.store import JobStore

log = logging.getLogger("docjobs.cluster")


async def follow_events(store: JobStore, runner: JobRunner, notifier: ChangeNotifier) -> None:
    """Act on every instance's announcements: wake pollers, stop cancelled jobs, pick up queued ones."""
    backoff = 0.0
    while True:
        try:
            async for kind, job_id in store.events():
                backoff = 0.0
                if kind == "changed":
                    notifier.notify(job_id)
                elif kind == "cancel":
                    if runner.cancel(job_id):
                        log_event("job.cancelled_here", job_id=job_id, level=logging.WARNING)
                    notifier.notify(job_id)
                elif kind == "queued":
                    runner.wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            backoff = min(10.0, backoff * 2 or 0.5)
            log.warning("lost the store's event stream (%s); resubscribing in %.1f s", exc, backoff)
            await asyncio.sleep(backoff)


async def keep_leases(store: JobStore, runner: JobRunner, registry: EndpointRegistry, lease_seconds: float) -> None:
    """Renew this instance's lease, stop jobs whose claim it lost, and recover lost instances' jobs."""
    interval = max(0.2, lease_seconds / 3)
    trust = LeaseTrust(lease_seconds)
    while True:
        try:
            now = time.time()
            await store.heartbeat(now)
            trust.heartbeat_succeeded()
            await stop_lost_claims(store, runner)
            for job_id in await runner.release_stray_claims():
                log_event("job.claim_reply_lost", job_id=job_id, level=logging.WARNING)
                await store.publish("queued", job_id)
            if trust.may_presume_others_dead():
                for job in await store.orphans(now):
                    await _recover(store, runner, registry, job, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            trust.heartbeat_failed()
            log.warning("lease renewal or recovery failed: %s", exc)
        await asyncio.sleep(interval)


class LeaseTrust:
    """Whether this instance's view of the other leases can be believed.

    After a store outage (or a stall of this instance) every lease may have lapsed, this one's too, while
    their owners are alive and merely could not renew. Until a full lease of heartbeats has succeeded,
    each live instance has had the time to renew, so only then is a missing lease a dead instance.
    """

    def __init__(self, lease_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lease = lease_seconds
        self._clock = clock
        self._healthy_since = -math.inf  # at start-up, the store's leases are as good as anyone's
        self._last_success: float | None = None
        self._failing = False

    def heartbeat_succeeded(self) -> None:
        """A heartbeat landed; after a failure, or a gap longer than a lease (a stall), the count restarts."""
        now = self._clock()
        stalled = self._last_success is not None and now - self._last_success > self._lease
        if self._failing or stalled:
            self._healthy_since = now
        self._failing = False
        self._last_success = now

    def heartbeat_failed(self) -> None:
        """The store did not answer: no lapsed lease means anything until a lease of successes."""
        self._failing = True

    def may_presume_others_dead(self) -> bool:
        """Whether a lapsed lease may be taken for a dead instance now."""
        return not self._failing and self._clock() - self._healthy_since >= self._lease


async def stop_lost_claims(store: JobStore, runner: JobRunner) -> None:
    """Kill at once the workers of jobs whose claim this instance no longer holds (taken over, deleted)."""
    held = runner.held_job_ids()
    if not held:
        return
    for job_id in await store.lost_claims(held):
        if runner.cancel(job_id):
            log_event("job.claim_lost", job_id=job_id, level=logging.WARNING)


async def _recover(store: JobStore, runner: JobRunner, registry: EndpointRegistry, job: Job, now: float) -> None:
    """A job of a lost instance: run it again if it never started or may be retried; else fail it."""
    try:
        retries = registry.get(job.endpoint).retries
    except EndpointNotAllowed:
        retries = 0
    if job.status is JobStatus.PENDING or job.retry_count < retries:
        requeued = await store.requeue(job.id, now)
        if requeued is not None:
            log_event(
                "job.requeued",
                job_id=job.id,
                endpoint=job.endpoint,
                retry_count=requeued.retry_count,
                level=logging.WARNING,
            )
            await store.publish("queued", job.id)
            runner.wake()
        return
    if job.status.is_active:
        await runner.finish(job, worker_lost())
