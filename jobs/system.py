"""Opening and closing the job system's resources with the application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from jobs.api.keys import REGISTRY, SERVICE, SETTINGS
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
from jobs.store import open_store


async def job_system(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start the pool, the store, the dispatcher and the cleanup loop; stop them after."""
    settings = app[SETTINGS]
    registry = app[REGISTRY]
    store = await open_store(settings)
    executor = open_executor(settings, registry)
    notifier = ChangeNotifier()
    estimator = DurationEstimator()
    runner = JobRunner(store, executor, registry, estimator, notifier)
    service = JobService(settings, store, runner, registry, estimator, notifier)
    app[SERVICE] = service
    await runner.start()
    background = [asyncio.create_task(cleanup_forever(service, settings.jobs.cleanup_interval_seconds))]
    if store.shared:
        background.append(asyncio.create_task(follow_events(store, runner, notifier)))
        if executor.runs_jobs:
            background.append(asyncio.create_task(keep_leases(store, runner, registry, settings.store.lease_seconds)))
    log_event(
        "service.started",
        role=settings.server.role,
        store=settings.store.backend,
        workers=runner.total_workers,
        worker_pids=runner.worker_pids(),
        endpoints=[e.path for e in registry],
    )
    try:
        yield
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await runner.close()
        await store.close()
        log_event("service.stopped")


async def drain_on_shutdown(app: web.Application) -> None:
    """on_shutdown: refuse new jobs, give running ones the grace period, then stop them."""
    service = app.get(SERVICE)
    if service is None:
        return
    await service.drain(app[SETTINGS].server.shutdown_grace_seconds)


def open_executor(settings: Settings, registry: EndpointRegistry) -> Executor:
    """The worker process pool, or on an API-only instance the executor that runs nothing."""
    if settings.server.role == "api":
        return NullExecutor()
    return WorkerPool(settings.worker_count, registry.handler_modules(), settings.pool, settings.jobs.max_result_bytes)
