"""GET /api/v1/jobs/{id}/events: server-sent events of every status and progress change."""

from __future__ import annotations

from aiohttp import web

from jobs.api.keys import CLIENT, SERVICE, owner_of
from jobs.api.responses import dumps
from jobs.api.views import status_view
from jobs.errors import JobNotFound

# A comment line this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS = 15.0


def setup_events_routes(app: web.Application) -> None:
    """Add the event stream route."""
    app.router.add_get("/api/v1/jobs/{job_id}/events", job_events)


async def job_events(request: web.Request) -> web.StreamResponse:
    """Stream `event: status` with the status JSON at once and after each change, until the job ends."""
    service = request.app[SERVICE]
    owner = owner_of(request)
    job = await service.get(request.match_info["job_id"], owner)  # a bad or unknown id is a plain JSON error
    with service.watches.hold(request[CLIENT]):
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
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
                break
            try:
                job = await service.wait_for_change(job.id, HEARTBEAT_SECONDS, owner)
            except JobNotFound:
                await response.write(f"event: deleted\ndata: {dumps({'jobId': job.id})}\n\n".encode())
                break
        await response.write_eof()
        return response
