"""Typed keys for the state kept on the aiohttp Application."""

from __future__ import annotations

from aiohttp import web

from jobs.service import JobService
from jobs.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
SERVICE = web.AppKey("service", JobService)

# Per-request values set by the context middleware.
CLIENT = web.RequestKey("client", str)
REQUEST_ID = web.RequestKey("request_id", str)
