"""Authentication: every API route needs a valid bearer key once keys are configured."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from jobs.api.errors import Handler
from jobs.api.keys import CLIENT, SEES_ALL
from jobs.auth import ApiKeys
from jobs.errors import Unauthorized

# Probes must work without a key, and so must the dashboard page itself: a browser cannot send a
# header when it opens a page, and the page is static HTML with no data. Its data comes from /api/,
# for which the page asks the user for a key.
PROTECTED_PREFIXES = ("/api/",)


def auth_middleware(keys: ApiKeys, protect_metrics: bool) -> Middleware:
    """Identify the caller by key (the client becomes the key's name), or answer 401."""
    prefixes = (*PROTECTED_PREFIXES, "/metrics") if protect_metrics else PROTECTED_PREFIXES

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[SEES_ALL] = not keys.enabled
        if not keys.enabled or request.method == "OPTIONS" or not request.path.startswith(prefixes):
            return await handler(request)
        identity = keys.identify(request.headers.get("Authorization"))
        if identity is None:
            raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'")
        request[CLIENT] = identity.client
        request[SEES_ALL] = identity.admin
        return await handler(request)

    return middleware
