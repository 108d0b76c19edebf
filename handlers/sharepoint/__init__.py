"""SharePoint / OneDrive file I/O through Microsoft Graph, for the synchronous document handlers.

Settings come from DOCJOBS_SHAREPOINT_* environment variables, read once per process on first use
(see docs/sharepoint.md). Every failure is a SharePointError subclass with a user-readable message.
"""

from .api import download, overwrite, upload_to_folder, validate_url
from .errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    DownloadTooLarge,
    InvalidRequest,
    InvalidSetting,
    NotConfigured,
    NotFound,
    SharePointError,
    Throttled,
    TransientFailure,
    UnexpectedResponse,
    UrlNotAllowed,
)
from .graph import DownloadedFile
from .settings import SharePointSettings
from .state import reset_process_cache

__all__ = [
    "AccessDenied",
    "AuthenticationFailed",
    "Conflict",
    "DownloadTooLarge",
    "DownloadedFile",
    "InvalidRequest",
    "InvalidSetting",
    "NotConfigured",
    "NotFound",
    "SharePointError",
    "SharePointSettings",
    "Throttled",
    "TransientFailure",
    "UnexpectedResponse",
    "UrlNotAllowed",
    "download",
    "overwrite",
    "reset_process_cache",
    "upload_to_folder",
    "validate_url",
]
