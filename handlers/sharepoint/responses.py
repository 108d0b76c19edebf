"""Turn Microsoft Graph error responses into named errors with messages a user can act on."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    NotFound,
    SharePointError,
    Throttled,
    TransientFailure,
    UnexpectedResponse,
)
from .urls import redacted

THROTTLING_STATUSES = frozenset({429, 503})
TRANSIENT_STATUSES = frozenset({500, 502, 504})
RETRYABLE_STATUSES = THROTTLING_STATUSES | TRANSIENT_STATUSES


@dataclass(frozen=True, slots=True)
class Target:
    """What a request is about, in the user's terms: "SharePoint file" and the URL they gave."""

    kind: str
    url: str

    def __str__(self) -> str:
        return redacted(self.url)


@dataclass(frozen=True, slots=True)
class GraphError:
    """The `error` object of a Graph error body, when there is one."""

    code: str
    message: str

    @classmethod
    def parse(cls, body: bytes) -> GraphError:
        """Read Graph's {"error": {"code", "message"}}; tolerate anything else."""
        try:
            error = json.loads(body).get("error", {})
        except (ValueError, AttributeError):
            return cls("", "")
        if not isinstance(error, dict):
            return cls("", "")
        return cls(str(error.get("code", "")), str(error.get("message", ""))[:300])

    def suffix(self) -> str:
        """ " [code: message]" for the end of a message, or nothing."""
        text = ": ".join(part for part in (self.code, self.message) if part)
        return f" [{text}]" if text else ""


_THROTTLED = (
    Throttled,
    "Microsoft Graph is throttling requests ({status}) for the {kind}: {url}; gave up {retries}. "
    "Try again in a few minutes.",
)
_TRANSIENT = (TransientFailure, "Microsoft Graph kept failing ({status}) for the {kind}: {url}; gave up {retries}.")
_BY_STATUS: dict[int, tuple[type[SharePointError], str]] = {
    401: (
        AuthenticationFailed,
        "Microsoft Graph rejected the app's access token (401) for the {kind}: {url}. "
        "Check the tenant, client id and secret or certificate.",
    ),
    403: (
        AccessDenied,
        "Access to the {kind} was denied (403): {url}. The app registration needs Files.ReadWrite.All, "
        "or Sites.Selected with access granted to this site.",
    ),
    404: (NotFound, "{Kind} not found (404): {url}"),
    409: (Conflict, "The {kind} already exists and was not replaced (409): {url}"),
    **dict.fromkeys(THROTTLING_STATUSES, _THROTTLED),
    **dict.fromkeys(TRANSIENT_STATUSES, _TRANSIENT),
}
_OTHER = (UnexpectedResponse, "Microsoft Graph refused the request ({status}) for the {kind}: {url}")


def error_for_status(status: int, target: Target, graph_error: GraphError, retry_summary: str) -> SharePointError:
    """The named error for a failed response (after retries, when the status was retryable)."""
    error_class, template = _BY_STATUS.get(status, _OTHER)
    message = template.format(
        status=status,
        kind=target.kind,
        Kind=target.kind[:1].upper() + target.kind[1:],
        url=target,
        retries=retry_summary,
    )
    return error_class(message + graph_error.suffix())
