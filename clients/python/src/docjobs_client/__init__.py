"""The docjobs client: an async Python API (`DocjobsClient`) and the `docjobs` command line.

It talks HTTP only; nothing here imports the service. Its names mirror the service's error codes
(`JobFailed` is `job_failed`), so they are meant to be used under this package's name; the status
answer is `JobSnapshot`, apart from the service's own `JobStatus` enum (here `JobState`).
"""

from docjobs_client.api import DEFAULT_URL, DocjobsClient
from docjobs_client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    DocjobsClientError,
    InvalidResponse,
    InvalidServiceUrl,
    JobExpired,
    JobFailed,
    JobNotFound,
    JobNotReady,
    RequestRejected,
    ServiceUnavailable,
    TooManyJobs,
    Unauthorized,
)
from docjobs_client.follow import PollPolicy, ProgressCallback
from docjobs_client.models import JobSnapshot, JobState, StartedJob

__all__ = [
    "DEFAULT_URL",
    "ConnectionFailed",
    "DeadlineExceeded",
    "DocjobsClient",
    "DocjobsClientError",
    "InvalidResponse",
    "InvalidServiceUrl",
    "JobExpired",
    "JobFailed",
    "JobNotFound",
    "JobNotReady",
    "JobSnapshot",
    "JobState",
    "PollPolicy",
    "ProgressCallback",
    "RequestRejected",
    "ServiceUnavailable",
    "StartedJob",
    "TooManyJobs",
    "Unauthorized",
]
