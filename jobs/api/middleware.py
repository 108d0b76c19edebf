"""Per-request context: who the client is and the request id that follows the job into the logs."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from jobs.api.errors import Handler
from jobs.api.keys import CLIENT, REQUEST_ID
from jobs.api.requests import IPNetwork, client_address, request_id


def context_middleware(trusted_proxies: tuple[IPNetwork, ...]) -> Middleware:
    """Attach `client` and `request_id` to each request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[CLIENT] = client_address(request, trusted_proxies)
        request[REQUEST_ID] = request_id(request)
        return await handler(request)

    return middleware


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer carries X-Request-ID, streamed ones included.

    A header set after the handler returns would be too late for an event stream, whose headers
    leave when the handler prepares it.
    """
    rid = request.get(REQUEST_ID)
    if rid is not None:
        response.headers["X-Request-ID"] = rid
