"""The one error hierarchy of the service.

Domain code raises these; `jobs.api.errors` maps each class to an HTTP status and a JSON body in one
place. Nothing here knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class DocjobsError(Exception):
    """Base of every error reported to a client; `code` is the stable machine-readable name."""

    code = "internal_error"

    def __init__(self, message: str, *, retry_after: int | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.details = details


class InvalidRequest(DocjobsError):
    """The request is malformed: bad JSON, a missing field, a wrong type."""

    code = "invalid_request"


class InvalidJson(InvalidRequest):
    """The body is not valid JSON (or not UTF-8)."""

    code = "invalid_json"


class InvalidPayload(InvalidRequest):
    """The endpoint's payload validator rejected the payload."""

    code = "invalid_payload"


class UnsupportedMediaType(DocjobsError):
    """The body is not `application/json`."""

    code = "unsupported_media_type"


class BodyTooLarge(DocjobsError):
    """The body is larger than the configured limit."""

    code = "payload_too_large"


class EndpointNotAllowed(DocjobsError):
    """The endpoint is not registered for asynchronous processing (the whitelist)."""

    code = "endpoint_not_allowed"


class Unauthorized(DocjobsError):
    """No API key, or one that matches no configured key."""

    code = "unauthorized"


class InvalidJobId(DocjobsError):
    """The job id in the path does not have the job id format."""

    code = "invalid_job_id"


class JobNotFound(DocjobsError):
    """No such job: never created, deleted, cleaned up, or its result already delivered."""

    code = "job_not_found"


class JobNotReady(DocjobsError):
    """The job is still pending or running, so it has no result yet."""

    code = "job_not_ready"


class JobFailed(DocjobsError):
    """The job ended with an error; the message says why."""

    code = "job_failed"


class JobExpired(DocjobsError):
    """The job ran or waited past its time limit."""

    code = "job_expired"


class ClientLimitReached(DocjobsError):
    """The client already has the maximum number of pending and running jobs."""

    code = "too_many_jobs"


class WatchLimitReached(ClientLimitReached):
    """The client already holds the maximum number of long polls and event streams."""

    code = "too_many_watches"


class QueueFull(DocjobsError):
    """The pending queue is at its bound; try again later."""

    code = "queue_full"


class StoreFull(DocjobsError):
    """The results held in the store are over their budget; cleanup will make room."""

    code = "store_full"


class StoreUnavailable(DocjobsError):
    """The shared job store (Redis) cannot be reached right now."""

    code = "store_unavailable"


class ShuttingDown(DocjobsError):
    """The service is shutting down and takes no new work."""

    code = "shutting_down"


class WorkerCrashed(DocjobsError):
    """The worker process running a direct call died."""

    code = "worker_crashed"


class DirectCallTimedOut(DocjobsError):
    """A direct call's job did not finish within twice its time limit plus a margin."""

    code = "timeout"


class ConfigError(Exception):
    """The configuration is invalid; raised at start-up only, never mapped to HTTP."""
