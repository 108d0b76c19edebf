"""Typed keys for the state kept on the aiohttp Application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from jobs.metrics import JobMetrics
from jobs.registry import EndpointRegistry
from jobs.service import JobService
from jobs.settings import Settings

if TYPE_CHECKING:  # the page's module serves it and reads its key from here
    from jobs.api.routes.dashboard import DashboardPage

# Every key of the application's state, so what the app holds is read in one place.
SETTINGS = web.AppKey("settings", Settings)
REGISTRY = web.AppKey("registry", EndpointRegistry)
SERVICE = web.AppKey("service", JobService)  # set by jobs.system.job_system while the app runs
METRICS = web.AppKey("metrics", JobMetrics)
DASHBOARD: web.AppKey[DashboardPage] = web.AppKey("dashboard")
OPENAPI = web.AppKey("openapi", bytes)  # the contract as JSON, ready to serve

# Per-request values set by the context middleware.
CLIENT = web.RequestKey("client", str)
REQUEST_ID = web.RequestKey("request_id", str)
# True for an admin key, or when authentication is off: the request may touch every client's jobs.
SEES_ALL = web.RequestKey("sees_all", bool)


def owner_of(request: web.Request) -> str | None:
    """The client whose jobs this request may touch, or None for any."""
    return None if request[SEES_ALL] else request[CLIENT]
