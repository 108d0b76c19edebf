"""Per-request context: who the client is, whether its key lets it in, and the request id.

One middleware does all three (each is a few dictionary operations; a middleware layer of its own
costs more than the work). It sits inside the error middleware, so a refused key becomes a JSON 401.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from jobs.api.errors import Handler
from jobs.api.keys import CLIENT, REQUEST_ID, RESPONSE_STARTED, SEES_ALL
from jobs.api.requests import IPNetwork, client_address, request_id
from jobs.auth import ApiKeys
from jobs.errors import Unauthorized

# The only routes open without a key. Probes must work without one, and so must the dashboard page
# itself: a browser cannot send a header when it opens a page, and the page is static HTML with no
# data (its data comes from /api/, for which the page asks the user for a key). Everything else needs
# a key whatever its path: an endpoint may be registered anywhere, and a path that matches no route
# (`/API/v1/...`: routing is case-sensitive) is refused with 401 before it can be told apart from one.
OPEN_ROUTES = frozenset({"/healthz", "/readyz", "/dashboard"})


def context_middleware(trusted_proxies: tuple[IPNetwork, ...], keys: ApiKeys, protect_metrics: bool) -> Middleware:
    """Attach the client (its address, or its key's name) and the request id; refuse a missing key."""
    open_routes = OPEN_ROUTES if protect_metrics else OPEN_ROUTES | {"/metrics"}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[REQUEST_ID] = request_id(request)
        request[CLIENT] = client_address(request, trusted_proxies)
        request[SEES_ALL] = not keys.enabled
        if keys.enabled and request.method != "OPTIONS" and _route_of(request) not in open_routes:
            identity = keys.identify(request.headers.get("Authorization"))
            if identity is None:
                raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'")
            request[CLIENT] = identity.client
            request[SEES_ALL] = identity.admin
        return await handler(request)

    return middleware


def _route_of(request: web.Request) -> str | None:
    # The matched route, not the raw path: percent-encoding or case cannot make a path look open.
    match_info = request.match_info
    resource = match_info.route.resource
    if resource is not None:
        return resource.canonical
    # A method a route does not take: the router found the path, so its 405 is no secret.
    error = getattr(match_info, "http_exception", None)
    return request.path if isinstance(error, web.HTTPMethodNotAllowed) else None


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer carries X-Request-ID, streamed ones included.

    A header set after the handler returns would be too late for an event stream, whose headers
    leave when the handler prepares it.
    """
    request[RESPONSE_STARTED] = response
    rid = request.get(REQUEST_ID)
    if rid is not None:
        response.headers["X-Request-ID"] = rid
