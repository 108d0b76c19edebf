"""The client's one error hierarchy: every error answer of the service, and failing to get one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DocjobsClientError(Exception):
    """Base of every client error; `code` is the service's `error` field or a client-side code."""

    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        job_id: str | None = None,
        retry_after: float | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status
        self.job_id = job_id
        self.retry_after = retry_after
        self.body = dict(body) if body is not None else None


class RequestRejected(DocjobsClientError):
    """The service refused the request itself: bad payload, unknown endpoint, too large (4xx)."""

    default_code = "invalid_request"


class Unauthorized(DocjobsClientError):
    """401/403: the API key is missing, unknown, or not allowed to do this."""

    default_code = "unauthorized"


class JobNotFound(DocjobsClientError):
    """No such job: never created, cancelled, cleaned up, or its result's grace period is over."""

    default_code = "job_not_found"


class JobNotReady(DocjobsClientError):
    """The job is still pending or running, so it has no result yet."""

    default_code = "job_not_ready"


class JobFailed(DocjobsClientError):
    """The job ended with an error; the message is the service's."""

    default_code = "job_failed"


class JobExpired(DocjobsClientError):
    """The job ran or waited past its time limit on the service."""

    default_code = "job_expired"


class TooManyJobs(DocjobsClientError):
    """429: this client has too many jobs (or long polls) at once; `retry_after` says when to retry."""

    default_code = "too_many_jobs"


class ServiceUnavailable(DocjobsClientError):
    """5xx: the service (or a gateway before it) could not answer; `retry_after` may say when to retry."""

    default_code = "service_unavailable"


class ConnectionFailed(DocjobsClientError):
    """The service could not be reached, or the connection broke, even after retries."""

    default_code = "network_error"


class InvalidResponse(DocjobsClientError):
    """The service answered with something that is not its JSON."""

    default_code = "invalid_response"


class InvalidServiceUrl(DocjobsClientError, ValueError):
    """The service URL is not an http:// or https:// URL with a host (found before any request)."""

    default_code = "invalid_url"


class DeadlineExceeded(DocjobsClientError):
    """The caller's deadline passed first; `job_id` lets the caller resume or cancel the job."""

    default_code = "deadline_exceeded"

    def __init__(self, message: str, *, job_id: str | None, last_status: Any = None) -> None:
        super().__init__(message, job_id=job_id)
        self.last_status = last_status


CLASS_BY_CODE: dict[str, type[DocjobsClientError]] = {
    "job_not_found": JobNotFound,
    "job_not_ready": JobNotReady,
    "job_failed": JobFailed,
    "job_expired": JobExpired,
    "too_many_jobs": TooManyJobs,
    "too_many_watches": TooManyJobs,
}

CLASS_BY_STATUS: dict[int, type[DocjobsClientError]] = {
    401: Unauthorized,
    403: Unauthorized,
    404: JobNotFound,
    409: JobNotReady,
    410: JobExpired,
    422: JobFailed,
    429: TooManyJobs,
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds; None when absent or not delta-seconds."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_answer(
    status: int, body: Any, retry_after: str | None = None, job_id: str | None = None
) -> DocjobsClientError:
    """The error for an error answer: by the service's code, else by the HTTP status."""
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    code = fields.get("error") if isinstance(fields.get("error"), str) else None
    cls = CLASS_BY_CODE.get(code or "") or CLASS_BY_STATUS.get(status)
    if cls is None:
        cls = ServiceUnavailable if status >= 500 else RequestRejected
    message = fields.get("message") if isinstance(fields.get("message"), str) else None
    return cls(
        message or f"the service answered HTTP {status}",
        code=code or f"http_{status}",
        status=status,
        job_id=fields.get("jobId") or job_id,
        retry_after=parse_retry_after(retry_after),
        body=fields or None,
    )
