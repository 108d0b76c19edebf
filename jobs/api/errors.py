"""The one place where errors become HTTP answers: JSON, the right status, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from jobs import errors
from jobs.api.keys import RESPONSE_STARTED
from jobs.api.responses import json_response
from jobs.api.views import progress_hint
from jobs.logs_bounds import bounded

# Walked along each error's MRO, so a subclass inherits its parent's status unless listed itself.
STATUS_BY_ERROR: dict[type[errors.DocjobsError], int] = {
    errors.InvalidRequest: 400,
    errors.EndpointNotAllowed: 400,
    errors.InvalidJobId: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
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
    body: dict[str, Any] = {"success": False, "error": error.code, "message": bounded(error.message)}
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
    """Turn every failure of a request into a JSON error answer, unless an answer has already started."""
    try:
        return await handler(request)
    except Exception as error:
        started = request.get(RESPONSE_STARTED)
        if started is not None:
            return _after_start(request, started, error)
        if isinstance(error, ConnectionError) and _client_left(request):
            # Hung up while its body was read: normal, and nobody is left to read an answer.
            log.debug("client left before its answer", extra={"fields": {"path": request.path[:200]}})
            return error_response(errors.InvalidRequest("the client closed the connection"))
        return _error_answer(request, error)


def _client_left(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _after_start(request: web.Request, started: web.StreamResponse, error: Exception) -> web.StreamResponse:
    # Like starlette: once an answer has started, writing another would put a second HTTP answer
    # inside the first one's body. A client that left is normal; anything else is re-raised, and
    # aiohttp logs it and closes the connection, so the client sees a cut-off answer.
    if isinstance(error, ConnectionError) and _client_left(request):
        log.debug("client left during its answer", extra={"fields": {"path": request.path[:200]}})
        return started  # already sent as far as it goes; aiohttp only finds the connection closed
    if isinstance(error, web.HTTPException):  # aiohttp would send it as an answer of its own
        raise RuntimeError(f"HTTP {error.status} raised after the answer started") from error
    raise error


def _error_answer(request: web.Request, error: Exception) -> web.StreamResponse:
    if isinstance(error, errors.DocjobsError):
        return error_response(error)
    if isinstance(error, web.HTTPException):
        if error.status < 400:
            raise error
        return _http_error_response(request, error)
    log.exception("unhandled error", extra={"fields": {"path": request.path[:200], "method": request.method}})
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
