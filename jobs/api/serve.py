"""Serving the application until SIGTERM, and draining while the listener still answers.

aiohttp's run_app closes the listening socket first and drains afterwards, so during the grace period
nobody could fetch a result, poll a status or learn that a job was stopped: with the in-memory store
there is no other instance to ask. Here the listener stays open while the service drains.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from jobs.api.keys import SERVICE, SETTINGS

# After the grace period stopped the last jobs, plain pollers still get this long to read how they
# ended (a poller asks every second or so); within the margin of the connections' shutdown timeout.
LAST_ANSWERS_SECONDS = 2.0


async def serve(app: web.Application, host: str, port: int, shutdown_timeout: float) -> None:
    """Run the app on host:port until SIGTERM or SIGINT, then drain while answering, then close."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        await drain_while_serving(app)
    finally:
        await runner.cleanup()


async def drain_while_serving(app: web.Application) -> None:
    """Refuse new jobs (503 + Retry-After), let running ones finish within the grace, stop the rest.

    With the in-memory store this instance alone holds the outcomes, so it keeps answering for the
    whole grace period: results of jobs that finished during it can still be fetched. A shared store
    has other instances to answer for it.
    """
    service = app.get(SERVICE)
    if service is None:
        return
    settings = app[SETTINGS]
    grace = settings.server.shutdown_grace_seconds
    loop = asyncio.get_running_loop()
    began = loop.time()
    await service.drain(grace)
    if not service.store.shared:
        await asyncio.sleep(max(LAST_ANSWERS_SECONDS, began + grace - loop.time()))
