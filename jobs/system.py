"""The one place that opens and closes the whole job system: store, executor, runner, service, loops.

`open_job_system` knows nothing of HTTP; `job_system` and `drain_on_shutdown` hook it into the
aiohttp application for server.py (the service goes under SERVICE; metrics, when the app has
them, are fed from the moment the service exists until it closes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from aiohttp import web

from jobs.api.keys import METRICS, REGISTRY, SERVICE, SETTINGS
from jobs.cleanup import cleanup_forever
from jobs.cluster import follow_events, keep_leases
from jobs.estimates import DurationEstimator
from jobs.logs import log_event
from jobs.notify import ChangeNotifier
from jobs.pool import Executor, NullExecutor, WorkerPool
from jobs.registry import EndpointRegistry
from jobs.runner import JobRunner
from jobs.service import JobService
from jobs.settings import Settings
from jobs.store import JobStore, open_store
from jobs.store.redis import RedisJobStore
from jobs.store.redis_figures import RedisFigures
from jobs.trim import pin_large_blocks_to_mmap


@contextlib.asynccontextmanager
async def open_job_system(settings: Settings, registry: EndpointRegistry) -> AsyncIterator[JobService]:
    """The running service; on exit every loop, worker and connection it opened is closed."""
    pin_large_blocks_to_mmap()  # payloads and results freed go back to the system (jobs.trim)
    store = await open_store(settings)
    try:
        notifier, estimator = ChangeNotifier(), DurationEstimator()
        executor = open_executor(settings, registry)
        # After a stall past 3/4 of its lease this instance's claims may be another's (jobs/cluster.py): a
        # job claimed that long ago is confirmed before a worker gets it.
        check = settings.store.lease_seconds * STALL_SHARE_OF_LEASE if store.shared else None
        runner = JobRunner(store, executor, registry, estimator, notifier, claim_check_seconds=check)
        figures = open_figures(store, runner, estimator)
        service = JobService(settings, store, runner, registry, estimator, notifier, figures=figures)
        try:
            await runner.start()
            async with _background_loops(settings, service, store, notifier, executor.runs_jobs):
                log_event(
                    "service.started",
                    role=settings.server.role,
                    store=settings.store.backend,
                    workers=runner.total_workers,
                    worker_pids=runner.worker_pids(),
                    endpoints=[e.path for e in registry],
                )
                yield service
        finally:
            await runner.close()
    finally:
        await store.close()
        log_event("service.stopped")


@contextlib.asynccontextmanager
async def _background_loops(
    settings: Settings, service: JobService, store: JobStore, notifier: ChangeNotifier, runs_jobs: bool
) -> AsyncIterator[None]:
    runner, registry = service.runner, service.registry
    loops = [cleanup_forever(service, settings.jobs.cleanup_interval_seconds), service.late_marks.run()]
    if isinstance(service.figures, RedisFigures):
        loops.append(service.figures.run([endpoint.path for endpoint in registry]))
    if store.shared:
        loops.append(follow_events(store, runner, notifier))
        if runs_jobs:  # an API-only instance holds no leases: it runs nothing
            loops.append(keep_leases(store, runner, registry, settings.store.lease_seconds))
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(service.figures, RedisFigures):
            await service.figures.close()


def open_figures(store: JobStore, runner: JobRunner, estimator: DurationEstimator) -> RedisFigures | None:
    """The fleet's figures in Redis when the store is Redis; None lets the service report its own."""
    return RedisFigures(store, runner, estimator) if isinstance(store, RedisJobStore) else None


# Workers outlive a stalled event loop by at most this share of the lease: the rest is the margin before
# another instance can find the lease lapsed and start the next attempt.
STALL_SHARE_OF_LEASE = 0.75


def open_executor(settings: Settings, registry: EndpointRegistry) -> Executor:
    """The worker process pool, or on an API-only instance the executor that runs nothing."""
    if settings.server.role == "api":
        return NullExecutor()
    # On a shared store a stalled instance's jobs are taken over after its lease: its workers stop
    # before that, so a job never runs twice at once.
    stall = settings.store.lease_seconds * STALL_SHARE_OF_LEASE if settings.store.backend == "redis" else 0
    # The derived address-space limit is resolved here, where the worker count is known.
    pool = replace(settings.pool, max_worker_address_space_bytes=settings.worker_address_space)
    modules = registry.handler_modules()
    return WorkerPool(settings.worker_count, modules, pool, settings.jobs.max_result_bytes, stall)


async def job_system(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the job system for the app's settings and registry, open while the app runs."""
    async with open_job_system(app[SETTINGS], app[REGISTRY]) as service:
        app[SERVICE] = service
        metrics = app.get(METRICS)
        if metrics is not None:
            metrics.attach(service)
        try:
            yield
        finally:
            if metrics is not None:
                metrics.detach(service)


async def drain_on_shutdown(app: web.Application) -> None:
    """on_shutdown: refuse new jobs, give running ones the grace period, then stop them."""
    service = app.get(SERVICE)
    if service is not None and service.accepting:  # not drained already while serving (jobs/api/serving.py)
        await service.drain(app[SETTINGS].server.shutdown_grace_seconds)
