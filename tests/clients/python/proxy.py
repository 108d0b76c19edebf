"""A pass-through HTTP proxy for client tests that can lose an answer after the service produced it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive", "host"}


@dataclass
class Proxy:
    """The proxy's URL and what passed through it."""

    url: str = ""
    seen: list[str] = field(default_factory=list)
    authorizations: set[str | None] = field(default_factory=set)


@asynccontextmanager
async def start_proxy(
    target: str, drop_first: str | None = None, unavailable_first: str | None = None
) -> AsyncIterator[Proxy]:
    """Forward everything to `target`, except:

    - the first request whose path ends with `drop_first` is sent on, its answer read in full, and
      then the client's connection is reset instead of answering;
    - the first request whose path ends with `unavailable_first` gets a 503 with Retry-After: 1.
    """
    proxy = Proxy()
    pending_drop = [drop_first] if drop_first else []
    pending_503 = [unavailable_first] if unavailable_first else []

    async def forward(request: web.Request) -> web.StreamResponse:
        proxy.seen.append(request.path_qs)
        proxy.authorizations.add(request.headers.get("Authorization"))
        if pending_503 and request.path.endswith(pending_503[0]):
            pending_503.clear()
            busy = {"success": False, "error": "queue_full", "message": "busy, try again"}
            return web.json_response(busy, status=503, headers={"Retry-After": "1"})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with session.request(
            request.method, f"{target}{request.path_qs}", headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        if pending_drop and request.path.endswith(pending_drop[0]):
            pending_drop.clear()
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("dropped by the test proxy")
        return web.Response(status=upstream.status, body=body, headers=out)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    async with aiohttp.ClientSession() as session:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        proxy.url = f"http://127.0.0.1:{port}"
        try:
            yield proxy
        finally:
            await runner.cleanup()
