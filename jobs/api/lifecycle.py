"""Opening and closing the job system's resources with the application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from jobs.api.keys import SERVICE, SETTINGS
from jobs.cleanup import cleanup_forever
from jobs.estimates import DurationEstimator
from jobs.logs import log_event
from jobs.memory_store import MemoryJobStore
from jobs.notify import ChangeNotifier
from jobs.pool import WorkerPool
from jobs.registry import EndpointRegistry
from jobs.runner import JobRunner
from jobs.service import JobService

REGISTRY = web.AppKey("registry", EndpointRegistry)


async def job_system(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start the pool, the store, the dispatcher and the cleanup loop; stop them after."""
    settings = app[SETTINGS]
    registry = app[REGISTRY]
    pool = WorkerPool(settings.worker_count, registry.handler_modules(), settings.pool, settings.jobs.max_result_bytes)
    store = MemoryJobStore()
    notifier = ChangeNotifier()
    estimator = DurationEstimator()
    runner = JobRunner(store, pool, registry, estimator, notifier)
    service = JobService(settings, store, runner, registry, estimator, notifier)
    app[SERVICE] = service
    await runner.start()
    cleanup = asyncio.create_task(cleanup_forever(service, settings.jobs.cleanup_interval_seconds))
    log_event(
        "service.started", workers=pool.size, worker_pids=runner.worker_pids(), endpoints=[e.path for e in registry]
    )
    try:
        yield
    finally:
        cleanup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cleanup
        await runner.close()
        await store.close()
        log_event("service.stopped")


async def drain_on_shutdown(app: web.Application) -> None:
    """on_shutdown: refuse new jobs, give running ones the grace period, then stop them."""
    service = app.get(SERVICE)
    if service is None:
        return
    service.accepting = False
    grace = app[SETTINGS].server.shutdown_grace_seconds
    log_event("service.draining", grace_seconds=grace, running=service.runner.busy_workers, level=logging.WARNING)
    await service.runner.drain(grace)
