"""The registered endpoints served directly: POST /api/v1/extract runs the handler and answers with its result.

A direct call is a job like any other (same queue, limits, timeout and worker pool), so direct and
asynchronous callers share the workers fairly; the request simply waits for it, and a client that
hangs up cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from jobs.api.errors import error_response
from jobs.api.keys import CLIENT, REQUEST_ID, SERVICE, SETTINGS
from jobs.api.requests import read_json
from jobs.api.responses import json_response
from jobs.errors import JobExpired, JobFailed, JobNotFound, WorkerCrashed
from jobs.model import JobStatus
from jobs.registry import EndpointRegistry
from jobs.service import JobService

# Worker deaths are recorded with this error text by the runner.
WORKER_DIED = "worker process died"


def setup_direct_routes(app: web.Application, registry: EndpointRegistry) -> None:
    """One POST route per registered endpoint."""
    for endpoint in registry:
        app.router.add_post(endpoint.path, call_directly)


async def call_directly(request: web.Request) -> web.StreamResponse:
    """Run the endpoint's handler for this request's body and answer with what it returned."""
    service = request.app[SERVICE]
    settings = request.app[SETTINGS]
    payload, size = await read_json(request, settings.server.max_body_bytes)
    started = await service.start(request.path, payload, request[CLIENT], request[REQUEST_ID], size)
    job_id = started.job.id
    try:
        job = await service.wait_until_finished(job_id, started.job.timeout_seconds * 2 + 5)
    except asyncio.CancelledError:
        # The client hung up: nobody will read this result, so free the worker now.
        await asyncio.shield(_cancel(service, job_id))
        raise
    await service.store.delete(job_id)  # the answer below is its only delivery
    if job is None:
        return error_response(JobNotFound("the job was deleted before it finished", job_id=job_id))
    if job.status is JobStatus.COMPLETED:
        return web.Response(text=job.result_json or "null", content_type="application/json")
    if job.status is JobStatus.EXPIRED:
        return error_response(JobExpired(job.message, job_id=job_id))
    if job.error == WORKER_DIED:
        return error_response(WorkerCrashed(job.message, job_id=job_id))
    if job.status is JobStatus.FAILED:
        return error_response(JobFailed(job.message, job_id=job_id))
    return json_response(
        {"success": False, "error": "timeout", "message": "the job did not finish in time"}, status=504
    )


async def _cancel(service: JobService, job_id: str) -> None:
    with contextlib.suppress(JobNotFound):
        await service.delete(job_id)
