"""The jobs API: start, status, result, list, delete, stats."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from aiohttp import web

from jobs.api import views
from jobs.api.keys import CLIENT, REQUEST_ID, SERVICE, SETTINGS, owner_of
from jobs.api.requests import read_json, request_json_field
from jobs.api.responses import json_response, send_json_with_result
from jobs.api.views import JOBS
from jobs.errors import InvalidRequest
from jobs.model import JobStatus, isoformat
from jobs.stats import build_stats

# Clients are told to poll at most this often, and at least this rarely, whatever the estimate.
POLL_INTERVAL_RANGE = (1, 5)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# Jobs per page of the list: the default suits a dashboard; the maximum keeps one page (and on Redis one
# script, which examines up to 10 x limit jobs) to a few milliseconds.
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 500
# A cursor is an insertion number the store handed out (opaque to clients).
CURSOR = re.compile(r"[0-9]{1,18}")
# Under the 60 s idle timeouts of common load balancers, with room to spare.
MAX_WAIT_SECONDS = 30


def setup_jobs_routes(app: web.Application) -> None:
    """Add the jobs API to the app."""
    app.router.add_post(f"{JOBS}/start", start_job)
    app.router.add_get(JOBS, list_jobs)
    app.router.add_get(f"{JOBS}/stats", job_stats)
    app.router.add_get(f"{JOBS}/{{job_id}}/status", job_status)
    app.router.add_get(f"{JOBS}/{{job_id}}/result", job_result)
    # "start" and "stats" are routes of their own: DELETE on them is a 405, not an attempt on a job id.
    app.router.add_delete(f"{JOBS}/{{job_id:(?!start$|stats$)[^/]+}}", delete_job)


async def start_job(request: web.Request) -> web.Response:
    """POST /api/v1/jobs/start: queue a job and answer at once with its id."""
    settings = request.app[SETTINGS]
    body, size = await read_json(request, settings.server.max_body_bytes)
    endpoint = request_json_field(body, "endpoint")
    payload = body.get("payload", {})
    started = await request.app[SERVICE].start(
        endpoint,
        payload,
        request[CLIENT],
        request[REQUEST_ID],
        payload_size=size,
        idempotency_key=_idempotency_key(request),
    )
    job, estimate = started.job, started.estimate
    poll_after = min(max(math.ceil(estimate.low_seconds / 10), POLL_INTERVAL_RANGE[0]), POLL_INTERVAL_RANGE[1])
    return json_response(
        views.started_view(job, estimate),
        status=202,
        headers={"Location": views.status_url(job.id), "Retry-After": str(poll_after)},
    )


async def job_status(request: web.Request) -> web.Response:
    """GET /api/v1/jobs/{id}/status[?wait=s]: status, progress and message; `wait` holds until a change."""
    service = request.app[SERVICE]
    job_id = request.match_info["job_id"]
    wait = _wait_seconds(request)
    if wait is None:
        job = await service.status(job_id, owner_of(request))
    else:
        with service.watches.hold(request[CLIENT]):
            job = await service.wait_for_change(job_id, wait, owner_of(request), request.query.get("since"))
    headers = {"Retry-After": "1"} if job.status.is_active else {}
    return json_response({"success": True, **views.status_view(job)}, headers=headers)


async def job_result(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/jobs/{id}/result: the handler's result; deleted after the retry grace period.

    HEAD answers with the same status and headers and delivers nothing: retrieved_at stays unset.
    """
    service, job_id = request.app[SERVICE], request.match_info["job_id"]
    if request.method == "HEAD":
        job = await service.peek(job_id, owner_of(request))
        result = await service.result_of(job)
    else:
        job, result = await service.collect(job_id, owner_of(request))  # its length now; its bytes as sent
    retrieved = isoformat(job.delivered_at) or _now_iso()
    return await send_json_with_result(request, views.result_head(job), "data", result, {"retrieved_at": retrieved})


async def list_jobs(request: web.Request) -> web.Response:
    """GET /api/v1/jobs[?status=&limit=&cursor=]: one page of the jobs held, oldest first.

    `total_jobs` counts every job that matches (from the store's counters); `next_cursor` reads on, and is
    null after the last page. A filtered page may be short before the end (the store bounds its scan).
    """
    status = _status_filter(request)
    limit = _int_query(request, "limit", LIST_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX)
    cursor = _cursor(request)
    service, owner = request.app[SERVICE], owner_of(request)
    page = await service.page_jobs(status, owner, cursor, limit)
    counts = await service.counts(owner)
    total = sum(counts.by_status.values()) if status is None else counts.by_status.get(status.value, 0)
    return json_response(
        {
            "success": True,
            "total_jobs": total,
            "jobs": [views.summary_view(j) for j in page.jobs],
            "next_cursor": None if page.next_cursor is None else str(page.next_cursor),
        }
    )


def _status_filter(request: web.Request) -> JobStatus | None:
    wanted = request.query.get("status")
    if not wanted:
        return None
    try:
        return JobStatus(wanted)
    except ValueError:
        choices = ", ".join(s.value for s in JobStatus)
        raise InvalidRequest(f"status must be one of {choices}") from None


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _cursor(request: web.Request) -> int:
    raw = request.query.get("cursor")
    if raw is None or raw == "":
        return 0
    if not CURSOR.fullmatch(raw):
        raise InvalidRequest("cursor must be a next_cursor from an earlier page of the job list")
    return int(raw)


async def delete_job(request: web.Request) -> web.Response:
    """DELETE /api/v1/jobs/{id}: cancel a job (its worker process is stopped) and forget it."""
    job = await request.app[SERVICE].delete(request.match_info["job_id"], owner_of(request))
    return json_response(views.deleted_view(job))


async def job_stats(request: web.Request) -> web.Response:
    """GET /api/v1/jobs/stats: counts by status and endpoint, durations, failures, memory."""
    return json_response({"success": True, "stats": await build_stats(request.app[SERVICE], owner_of(request))})


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidRequest("Idempotency-Key must be 1-255 visible ASCII characters")
    return key


def _wait_seconds(request: web.Request) -> float | None:
    raw = request.query.get("wait")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_WAIT_SECONDS:
        raise InvalidRequest(f"wait must be a number of seconds above 0 and at most {MAX_WAIT_SECONDS}")
    return seconds


def _now_iso() -> str:
    return isoformat(datetime.now(tz=UTC).timestamp()) or ""
