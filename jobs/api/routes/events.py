"""GET /api/v1/jobs/{id}/events: server-sent events of every status and progress change."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from jobs.api.keys import CLIENT, SERVICE, owner_of
from jobs.api.responses import dumps
from jobs.api.views import status_view
from jobs.errors import DocjobsError, JobNotFound
from jobs.model import Job
from jobs.service import JobService

# A comment line this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS = 15.0
log = logging.getLogger("docjobs.api.events")


def setup_events_routes(app: web.Application) -> None:
    """Add the event stream route."""
    app.router.add_get("/api/v1/jobs/{job_id}/events", job_events)


async def job_events(request: web.Request) -> web.StreamResponse:
    """Stream `event: status` with the status JSON at once and after each change, until the job ends.

    Once the stream has started its status line is sent: a later failure (the store unreachable)
    ends it with an `event: error` carrying the usual error JSON, never with a second HTTP answer.
    """
    service = request.app[SERVICE]
    owner = owner_of(request)
    job = await service.get(request.match_info["job_id"], owner)  # a bad or unknown id is a plain JSON error
    with service.watches.hold(request[CLIENT]):
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        try:
            await _follow(response, service, job, owner)
            await response.write_eof()
        except asyncio.CancelledError:  # the client left: the server cancels the handler on a disconnect
            log.debug("client left an event stream", extra={"fields": {"job_id": job.id}})
            raise
        except ConnectionError:  # the client left, and a write noticed first
            log.debug("client left an event stream", extra={"fields": {"job_id": job.id}})
        except DocjobsError as error:
            await _end_with_error(response, error.code, error.message)
        except Exception:
            log.exception("event stream failed", extra={"fields": {"job_id": job.id}})
            await _end_with_error(response, "internal_error", "the event stream failed; it has been logged")
        return response


async def _follow(response: web.StreamResponse, service: JobService, job: Job, owner: str | None) -> None:
    last_sent: tuple[object, ...] | None = None
    while True:
        state = (job.status, job.progress, job.message)
        if state != last_sent:
            payload = dumps({"success": True, **status_view(job)})
            await response.write(f"event: status\ndata: {payload}\n\n".encode())
            last_sent = state
        else:
            await response.write(b": keep-alive\n\n")
        if not job.status.is_active:
            return
        try:
            job = await service.wait_for_change(job.id, HEARTBEAT_SECONDS, owner)
        except JobNotFound:
            await response.write(f"event: deleted\ndata: {dumps({'jobId': job.id})}\n\n".encode())
            return


async def _end_with_error(response: web.StreamResponse, code: str, message: str) -> None:
    body = dumps({"success": False, "error": code, "message": message})
    try:
        await response.write(f"event: error\ndata: {body}\n\n".encode())
        await response.write_eof()
    except ConnectionError:
        log.debug("client left an event stream before its error event")
