"""The docjobs client: an async Python API (`DocjobsClient`) and `python -m jobs.client`.

It talks HTTP only; nothing here imports the service.
"""

from jobs.client.api import DEFAULT_URL, DocjobsClient
from jobs.client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    DocjobsClientError,
    InvalidResponse,
    JobExpired,
    JobFailed,
    JobNotFound,
    JobNotReady,
    RequestRejected,
    ServiceUnavailable,
    TooManyJobs,
    Unauthorized,
)
from jobs.client.follow import PollPolicy, ProgressCallback
from jobs.client.models import JobState, JobStatus, StartedJob

__all__ = [
    "DEFAULT_URL",
    "ConnectionFailed",
    "DeadlineExceeded",
    "DocjobsClient",
    "DocjobsClientError",
    "InvalidResponse",
    "JobExpired",
    "JobFailed",
    "JobNotFound",
    "JobNotReady",
    "JobState",
    "JobStatus",
    "PollPolicy",
    "ProgressCallback",
    "RequestRejected",
    "ServiceUnavailable",
    "StartedJob",
    "TooManyJobs",
    "Unauthorized",
]
