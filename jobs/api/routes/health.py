"""Liveness, readiness, and the list of registered endpoints."""

from __future__ import annotations

from aiohttp import web

from jobs.api.keys import SERVICE
from jobs.api.responses import json_response


def setup_health_routes(app: web.Application) -> None:
    """Add /healthz, /readyz and /api/v1/endpoints."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/endpoints", list_endpoints)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and its event loop answers."""
    return json_response({"success": True, "status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready to take jobs: accepting, with live worker processes and a store that answers."""
    service = request.app[SERVICE]
    problems = await service.readiness_problems()
    if problems:
        return json_response({"success": False, "error": "not_ready", "message": "; ".join(problems)}, status=503)
    return json_response({"success": True, "status": "ready", "workers": len(service.worker_pids())})


async def list_endpoints(request: web.Request) -> web.Response:
    """The endpoints that can be run, with their limits."""
    endpoints = [
        {
            "endpoint": e.path,
            "timeout_seconds": e.timeout_seconds,
            "estimated_seconds": e.estimated_seconds,
            "description": e.description,
            "validates_payload": e.validator is not None,
        }
        for e in request.app[SERVICE].registry
    ]
    return json_response({"success": True, "endpoints": endpoints})
