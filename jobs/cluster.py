"""What an instance does to act as one service with the others that share its store."""

from __future__ import annotations

import asyncio
import logging
import time

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
    """Renew this instance's lease, and recover the jobs of instances whose lease ran out."""
    interval = max(0.2, lease_seconds / 3)
    while True:
        try:
            now = time.time()
            await store.heartbeat(now)
            for job in await store.orphans(now):
                await _recover(store, runner, registry, job, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("lease renewal or recovery failed: %s", exc)
        await asyncio.sleep(interval)


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
