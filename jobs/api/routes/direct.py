"""The registered endpoints served directly: POST /api/v1/extract runs the handler and answers with its result.

A direct call is a job like any other (same queue, limits, timeout and worker pool), so direct and
asynchronous callers share the workers fairly; the request simply waits for it, and a client that
hangs up cancels it. How its ending maps to an error is the service's (`jobs.direct.run_directly`).
"""

from __future__ import annotations

from aiohttp import web

from jobs.api.keys import CLIENT, REQUEST_ID, SERVICE, SETTINGS
from jobs.api.requests import read_json
from jobs.api.responses import send_json_bytes
from jobs.direct import run_directly
from jobs.registry import EndpointRegistry


def setup_direct_routes(app: web.Application, registry: EndpointRegistry) -> None:
    """One POST route per registered endpoint."""
    for endpoint in registry:
        app.router.add_post(endpoint.path, call_directly)


async def call_directly(request: web.Request) -> web.StreamResponse:
    """Run the endpoint's handler for this request's body and answer with what it returned."""
    settings = request.app[SETTINGS]
    payload, size = await read_json(request, settings.server.max_body_bytes)
    job = await run_directly(request.app[SERVICE], request.path, payload, request[CLIENT], request[REQUEST_ID], size)
    return await send_json_bytes(request, job.result_json or b"null")
