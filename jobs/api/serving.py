"""Running the app until SIGTERM or Ctrl-C: aiohttp's runner behind a guarded listening socket."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from jobs.api.connections import CONNECTIONS
from jobs.settings import ServerSettings

# aiohttp's run_app default, and longer than the idle timeouts of the common load balancers (60 s),
# so that they, not we, close an idle kept-alive connection.
KEEPALIVE_SECONDS = 75.0
# A drained shutdown still lets answers reach their clients for this long after the grace.
SHUTDOWN_MARGIN_SECONDS = 5.0


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
        finally:
            listening.close()  # stop accepting first; the drain (on_shutdown) runs in cleanup
    finally:
        await runner.cleanup()
