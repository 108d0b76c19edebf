"""An aiohttp application served over HTTPS on 127.0.0.1 from a background thread.

Synchronous code under test blocks the thread that calls it, so the fake must not share that
thread's event loop: it gets a loop and a thread of its own.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import weakref
from typing import Any

import trustme
from aiohttp import web

from tests.waiting import wait_until_async


class BackgroundServer:
    """Runs `app` with a certificate for 127.0.0.1 / localhost / ::1 from the test CA."""

    def __init__(self, app: web.Application, ca: trustme.CA) -> None:
        self._app = app
        self._ca = ca
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-graph", daemon=True)
        self._runner: web.AppRunner | None = None
        self._transports: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()
        app.middlewares.insert(0, self._track_transport)

    def start(self) -> int:
        """Listen on an ephemeral port; return it."""
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        """Close the server, every connection clients left open, and the thread."""
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> int:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(context)
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context).start()
        return int(self._runner.addresses[0][1])

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Keep-alive clients (msal's requests session) may never answer the TLS close_notify;
        # aborting their transports closes the sockets now instead of at garbage collection.
        sockets = [transport.get_extra_info("socket") for transport in self._transports]
        for transport in self._transports:
            transport.abort()
        # abort() closes each socket on a later turn of this loop: wait for that, not a guessed time.
        open_sockets = [sock for sock in sockets if sock is not None]
        await wait_until_async(
            lambda: all(sock.fileno() == -1 for sock in open_sockets), 5, "the clients' sockets to close"
        )

    @web.middleware
    async def _track_transport(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.transport is not None:
            self._transports.add(request.transport)
        return await handler(request)  # type: ignore[no-any-return]
