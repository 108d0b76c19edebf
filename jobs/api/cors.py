"""CORS for browsers on the configured origins (none by default)."""

from __future__ import annotations

import aiohttp_cors
from aiohttp import web

from jobs.settings import CorsSettings

ALLOWED_HEADERS = ("Content-Type", "Authorization", "X-Request-ID", "Idempotency-Key")
EXPOSED_HEADERS = ("Location", "Retry-After", "X-Request-ID")


def setup_cors(app: web.Application, settings: CorsSettings) -> None:
    """Answer preflights and add CORS headers on every route, for the allowed origins only."""
    if not settings.allowed_origins:
        return
    options = aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
        allow_credentials=False,
        expose_headers=EXPOSED_HEADERS,
        allow_headers=ALLOWED_HEADERS,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        max_age=settings.max_age_seconds,
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in settings.allowed_origins})
    for route in list(app.router.routes()):
        cors.add(route)
