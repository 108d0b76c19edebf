"""Per-request context: who the client is and the request id that follows the job into the logs."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from jobs.api.errors import Handler
from jobs.api.keys import CLIENT, REQUEST_ID
from jobs.api.requests import IPNetwork, client_address, request_id


def context_middleware(trusted_proxies: tuple[IPNetwork, ...]) -> Middleware:
    """Attach `client` and `request_id` to each request, and echo the id back in X-Request-ID."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[CLIENT] = client_address(request, trusted_proxies)
        request[REQUEST_ID] = rid = request_id(request)
        response = await handler(request)
        response.headers["X-Request-ID"] = rid
        return response

    return middleware
