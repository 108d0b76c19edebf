"""Slow clients: a deadline for each request's head and body, and a cap on open connections.

aiohttp closes only fully idle connections (after the keep-alive timeout); a client that trickles a
header line or a body chunk every few seconds holds its connection, and a file descriptor, forever.
Each accepted connection is wrapped in a `GuardedProtocol` that forwards everything to aiohttp's
own protocol and adds what it lacks:

- from the moment a connection opens, or the first byte of its next request arrives, the request
  head must be complete within `server.request_head_timeout_seconds`;
- once the head is in, the body must be complete within `server.request_body_timeout_seconds`;
- at most `server.max_connections` are open: a new one displaces the connection that has waited
  longest for a request head (so a flood of slow heads cannot lock out the probes), and is closed
  at once when every open connection is inside a request.

A connection past its deadline is aborted (no answer: nothing more is read from it), by one periodic
sweep over the open connections rather than a timer per request. The request
phases come from the app's middleware (`track_requests`), which sees a request once its head is
parsed; without the wrapper (aiohttp's test server) the middleware finds no guard and does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from jobs.api.errors import Handler
from jobs.settings import ServerSettings

log = logging.getLogger("docjobs.connections")
ProtocolFactory = Callable[[], asyncio.Protocol]

# File descriptors kept back from the connection cap for everything else the server opens: worker
# pipes and sentinels, the Manager, Redis connections, the listening socket, logs, temp files.
RESERVED_FDS = 64
FDS_PER_WORKER = 4
# Far past what one event loop serves well; a larger fd limit does not make the process faster.
MAX_DERIVED_CONNECTIONS = 10_000
# The "connection limit reached" warning repeats at most this often, however many are refused.
LIMIT_WARNING_INTERVAL = 60.0
# How often the deadlines are checked, in seconds, at least and at most: a connection is aborted at most
# this late after its deadline, and an idle server does not wake up for it.
SWEEP_INTERVAL_BOUNDS = (0.05, 0.5)


def derived_max_connections(fd_limit: int, workers: int) -> int:
    """The default connection cap: what the fd limit leaves after the server's own descriptors."""
    if fd_limit < 0:  # RLIM_INFINITY
        return MAX_DERIVED_CONNECTIONS
    return max(8, min(MAX_DERIVED_CONNECTIONS, fd_limit - RESERVED_FDS - FDS_PER_WORKER * workers))


def max_connections_for(server: ServerSettings, workers: int) -> int:
    """`server.max_connections`, or (0) the cap derived from this process's soft fd limit."""
    if server.max_connections:
        return server.max_connections
    return derived_max_connections(resource.getrlimit(resource.RLIMIT_NOFILE)[0], workers)


class GuardedProtocol(asyncio.Protocol):
    """One connection: forwards to aiohttp's protocol, and aborts it when a deadline passes."""

    def __init__(self, inner: asyncio.Protocol, connections: Connections) -> None:
        self.inner = inner
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self.in_request = False
        self.waiting_since = 0.0  # loop time since it waits for a request head (or sits idle)
        # Loop time past which the connection is aborted, and the phase it waits in; None: no deadline
        # (idle between requests, or inside a handler). A plain attribute, not a timer: arming and
        # cancelling a TimerHandle three times per request cost more than the rest of this guard.
        self.deadline: float | None = None
        self.phase = ""
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's too)
        if not self._connections.admit(self):
            transport.abort()  # type: ignore[attr-defined]
            return
        self._admitted = True
        self.inner.connection_made(transport)
        self.expect("request head")

    def data_received(self, data: bytes) -> None:
        if self.deadline is None and not self.in_request:
            self.expect("request head")  # the first bytes of the next request on a kept-alive connection
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline = None
        if self._admitted:
            self._connections.forget(self)
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def expect(self, phase: str) -> None:
        """Start the deadline for the request head or body (the connections' sweep enforces it)."""
        now = self._connections.now()
        if phase == "request head":
            self.waiting_since = now
        self.phase = phase
        self.deadline = now + self._connections.timeout_for(phase)

    def request_started(self, request: web.BaseRequest) -> None:
        """Its head has arrived: now the body, if there is one, has its own deadline."""
        self.in_request = True
        self.deadline = None
        if request.body_exists:
            self.expect("request body")
            request.content.on_eof(self._body_arrived)

    def _body_arrived(self) -> None:
        if self.in_request:
            self.deadline = None

    def request_ended(self) -> None:
        """The handler is done; the connection may be kept alive for the next request."""
        self.in_request = False
        self.deadline = None
        self.waiting_since = self._connections.now()

    def abort(self, reason: str) -> None:
        """Drop the connection at once."""
        self.deadline = None
        if self._transport is not None and not self._transport.is_closing():
            log.debug("closing a connection", extra={"fields": {"reason": reason, "peer": self._peer()}})
            self._transport.abort()

    def _peer(self) -> str:
        peer = self._transport.get_extra_info("peername") if self._transport is not None else None
        return str(peer[0]) if isinstance(peer, tuple) else "unknown"


class Connections:
    """The open connections of one server, with their deadlines and the cap on how many."""

    def __init__(self, head_timeout: float, body_timeout: float, limit: int) -> None:
        self._timeouts = {"request head": head_timeout, "request body": body_timeout}
        self.limit = limit
        self._open: dict[object, GuardedProtocol] = {}  # by aiohttp's protocol, which a request knows
        self._warned_at: float | None = None
        # One sweep for every deadline: a tenth of the shortest timeout, within SWEEP_INTERVAL_BOUNDS.
        self.sweep_interval = min(
            max(min(head_timeout, body_timeout) / 10, SWEEP_INTERVAL_BOUNDS[0]), SWEEP_INTERVAL_BOUNDS[1]
        )
        self._sweep: asyncio.TimerHandle | None = None
        # The serving loop, taken at the first connection: asyncio.get_running_loop() makes a getpid()
        # system call on every use in Python 3.11, and the deadlines read the clock twice per request.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def count(self) -> int:
        """Connections open right now."""
        return len(self._open)

    def now(self) -> float:
        """The event loop's clock, which deadlines are kept in."""
        return self._event_loop().time()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def timeout_for(self, phase: str) -> float:
        """Seconds allowed for a request's head or body."""
        return self._timeouts[phase]

    def wrap(self, factory: ProtocolFactory) -> ProtocolFactory:
        """A protocol factory for `loop.create_server` whose connections are guarded."""
        return lambda: GuardedProtocol(factory(), self)

    def admit(self, guard: GuardedProtocol) -> bool:
        """Room for a new connection, made by displacing a waiting one if need be; False: refuse it."""
        if len(self._open) >= self.limit:
            self._warn_full()
            waiting = [g for g in self._open.values() if not g.in_request]
            if not waiting:
                return False
            min(waiting, key=lambda g: g.waiting_since).abort("displaced at the connection limit")
            # The displaced one leaves in its connection_lost, a moment later: at most one over the cap.
        self._open[guard.inner] = guard
        if self._sweep is None:
            self._sweep = self._event_loop().call_later(self.sweep_interval, self._abort_overdue)
        return True

    def _abort_overdue(self) -> None:
        """Abort every connection past its deadline; runs while any connection is open."""
        now = self.now()
        for guard in [g for g in self._open.values() if g.deadline is not None and now >= g.deadline]:
            guard.abort(f"{guard.phase} timeout")
        self._sweep = self._event_loop().call_later(self.sweep_interval, self._abort_overdue) if self._open else None

    def forget(self, guard: GuardedProtocol) -> None:
        """A connection closed."""
        self._open.pop(guard.inner, None)

    def find(self, protocol: object) -> GuardedProtocol | None:
        """The guard of the connection a request came in on (None on an unguarded server)."""
        return self._open.get(protocol)

    def _warn_full(self) -> None:
        now = self.now()
        if self._warned_at is None or now - self._warned_at >= LIMIT_WARNING_INTERVAL:
            self._warned_at = now
            log.warning(
                "connection limit reached",
                extra={"fields": {"max_connections": self.limit, "hint": "server.max_connections"}},
            )


CONNECTIONS = web.AppKey("connections", Connections)


def setup_connections(app: web.Application, server: ServerSettings, workers: int) -> None:
    """Keep the connection guards on the app, and track each request's phases in a middleware."""
    connections = Connections(
        server.request_head_timeout_seconds, server.request_body_timeout_seconds, max_connections_for(server, workers)
    )
    app[CONNECTIONS] = connections
    # Outside the error and key middlewares: a refused request has still had its head.
    app.middlewares.insert(0, track_requests(connections))


def track_requests(connections: Connections) -> Middleware:
    """Tell a request's connection guard when its head has arrived and when its handler is done."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        guard = connections.find(request.protocol)
        if guard is None:
            return await handler(request)
        guard.request_started(request)
        try:
            return await handler(request)
        finally:
            guard.request_ended()

    return middleware
