"""Typed keys for the state kept on the aiohttp Application."""

from __future__ import annotations

from aiohttp import web

from jobs.registry import EndpointRegistry
from jobs.service import JobService
from jobs.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
SERVICE = web.AppKey("service", JobService)
REGISTRY = web.AppKey("registry", EndpointRegistry)

# Per-request values set by the context middleware.
CLIENT = web.RequestKey("client", str)
REQUEST_ID = web.RequestKey("request_id", str)
# True for an admin key, or when authentication is off: the request may touch every client's jobs.
SEES_ALL = web.RequestKey("sees_all", bool)
# Set once a handler has started its own answer (an event stream): no other answer may follow it.
RESPONSE_STARTED = web.RequestKey("response_started", web.StreamResponse)


def owner_of(request: web.Request) -> str | None:
    """The client whose jobs this request may touch, or None for any."""
    return None if request[SEES_ALL] else request[CLIENT]
