"""Running the app until SIGTERM or Ctrl-C: aiohttp's runner behind a guarded listening socket.

aiohttp's run_app closes the listening socket first and drains afterwards, so during the grace period
nobody could fetch a result, poll a status or learn that a job was stopped: with the in-memory store
there is no other instance to ask. Here the listener stays open while the service drains.
"""

from __future__ import annotations

import asyncio
import signal
import time

from aiohttp import web

from jobs.api.connections import CONNECTIONS
from jobs.api.keys import SERVICE
from jobs.model import JobStatus
from jobs.service import JobService
from jobs.settings import ServerSettings

# aiohttp's run_app default, and longer than the idle timeouts of the common load balancers (60 s),
# so that they, not we, close an idle kept-alive connection.
KEEPALIVE_SECONDS = 75.0
# A drained shutdown still lets answers reach their clients for this long after the grace.
SHUTDOWN_MARGIN_SECONDS = 5.0
# After the grace period stopped the last jobs, plain pollers still get this long to read how they
# ended (a poller asks every second or so); within the margin of the connections' shutdown timeout.
LAST_ANSWERS_SECONDS = 2.0
# How often a draining instance looks whether results are still waiting to be fetched.
RESULT_CHECK_SECONDS = 0.2


def run(app: web.Application, server: ServerSettings) -> None:
    """Serve `app` on `server.host:server.port` until SIGTERM or SIGINT, then shut it down cleanly."""
    asyncio.run(serve(app, server))


async def serve(app: web.Application, server: ServerSettings) -> None:
    """The whole life of the listening server, inside a running event loop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=KEEPALIVE_SECONDS,
        shutdown_timeout=server.shutdown_grace_seconds + SHUTDOWN_MARGIN_SECONDS,
        # A client that hangs up cancels its handler: a direct call then cancels its job, and a long
        # poll or an event stream frees its watch slot at once (aiohttp's test server does the same).
        handler_cancellation=True,
    )
    await runner.setup()
    try:
        assert runner.server is not None
        listening = await loop.create_server(app[CONNECTIONS].wrap(runner.server), server.host, server.port)
        try:
            await stop.wait()
            await drain_while_serving(app, server.shutdown_grace_seconds)
        finally:
            listening.close()
    finally:
        await runner.cleanup()


async def drain_while_serving(app: web.Application, grace: float) -> None:
    """Refuse new jobs (503 + Retry-After), let running ones finish within the grace, stop the rest.

    With the in-memory store this instance alone holds the outcomes, so it keeps answering while a job
    that ended during the drain still has a result nobody fetched, up to the end of the grace period,
    and at least LAST_ANSWERS_SECONDS after the last job stopped so plain pollers learn how theirs
    ended. An idle instance stops after that short margin, not after the whole grace. A shared store
    has other instances to answer for it.
    """
    service = app.get(SERVICE)
    if service is None:
        return
    loop = asyncio.get_running_loop()
    began, began_at = loop.time(), time.time()
    await service.drain(grace)
    if service.store.shared:
        return
    stopped = loop.time()
    deadline = max(stopped + LAST_ANSWERS_SECONDS, began + grace)
    while (now := loop.time()) < deadline:
        if now >= stopped + LAST_ANSWERS_SECONDS and not await _unfetched_since(service, began_at):
            return
        await asyncio.sleep(min(RESULT_CHECK_SECONDS, deadline - now))


async def _unfetched_since(service: JobService, since: float) -> bool:
    """Whether a job that completed at or after `since` still has a result nobody fetched."""
    return any(
        job.status is JobStatus.COMPLETED and job.delivered_at is None and (job.finished_at or 0) >= since
        for job in await service.list_jobs(JobStatus.COMPLETED)
    )
