"""The one place where errors become HTTP answers: JSON, the right status, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from jobs import errors
from jobs.api.responses import json_response
from jobs.api.views import progress_hint

# Walked along each error's MRO, so a subclass inherits its parent's status unless listed itself.
STATUS_BY_ERROR: dict[type[errors.DocjobsError], int] = {
    errors.InvalidRequest: 400,
    errors.EndpointNotAllowed: 400,
    errors.InvalidJobId: 400,
    errors.Unauthorized: 401,
    errors.JobNotFound: 404,
    errors.JobNotReady: 409,
    errors.JobFailed: 422,
    errors.JobExpired: 410,
    errors.BodyTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.ClientLimitReached: 429,
    errors.QueueFull: 503,
    errors.StoreFull: 503,
    errors.StoreUnavailable: 503,
    errors.ShuttingDown: 503,
    errors.WorkerCrashed: 502,
    errors.DirectCallTimedOut: 504,
    errors.DocjobsError: 500,
}

# aiohttp's own answers (no route, wrong method, body over client_max_size) get our JSON shape too.
CODE_BY_HTTP_STATUS = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    400: "invalid_request",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Every error answer carries its code under this response key, for middlewares that count them.
ERROR_CODE = web.ResponseKey("error_code", str)
log = logging.getLogger("docjobs.api")


def status_for(error: errors.DocjobsError) -> int:
    """The HTTP status of a domain error: the first class in its MRO that has one."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500  # pragma: no cover - DocjobsError itself is in the table


def error_response(error: errors.DocjobsError) -> web.Response:
    """`{"success": false, "error": code, "message": text, ...details}` with its status."""
    body: dict[str, Any] = {"success": False, "error": error.code, "message": error.message}
    for key, value in error.details.items():
        body[_camel_if_job_id(key)] = value
    if isinstance(error, errors.JobNotReady) and "job_id" in error.details:
        body["hint"] = progress_hint(str(error.details["job_id"]))
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="docjobs"'
    response = json_response(body, status=status_for(error), headers=headers)
    response[ERROR_CODE] = error.code
    return response


def _camel_if_job_id(key: str) -> str:
    # The design's bodies say "jobId"; every other detail key is already in its final form.
    return "jobId" if key == "job_id" else key


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure of a request into a JSON error answer."""
    try:
        return await handler(request)
    except errors.DocjobsError as error:
        return error_response(error)
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        return _http_error_response(request, http_error)
    except Exception:
        log.exception("unhandled error", extra={"fields": {"path": request.path, "method": request.method}})
        return json_response(
            {
                "success": False,
                "error": "internal_error",
                "message": "the service failed to process this request; it has been logged",
            },
            status=500,
        )


def _http_error_response(request: web.Request, http_error: web.HTTPException) -> web.Response:
    status = http_error.status
    code = CODE_BY_HTTP_STATUS.get(status, "http_error")
    message = {
        404: f"no route for {request.path[:200]!r}",
        405: f"method {request.method} is not allowed on {request.path[:200]!r}",
        413: "the request body is larger than the configured limit",
    }.get(status, http_error.reason)
    headers = {}
    allow = http_error.headers.get("Allow")
    if allow:
        headers["Allow"] = allow
    response = json_response({"success": False, "error": code, "message": message}, status=status, headers=headers)
    response[ERROR_CODE] = code
    return response
