"""One error hierarchy for SharePoint / Microsoft Graph file I/O.

Every message is written for the person who submitted the job: it names the case (and the HTTP status
when there is one) and the URL they gave, never a token, a secret or a pre-authenticated download URL.
"""


class SharePointError(Exception):
    """Base class: any failure to read or write a file through Microsoft Graph."""


class NotConfigured(SharePointError):
    """SharePoint credentials (tenant, client id, secret or certificate) are missing."""


class InvalidSetting(SharePointError):
    """A DOCJOBS_SHAREPOINT_* setting has a value that cannot be used."""


class UrlNotAllowed(SharePointError):
    """The URL is not https, its host is off the allow-list, or it resolves to a non-public address."""


class InvalidRequest(SharePointError):
    """The caller asked for something that cannot be done (bad file name, a folder where a file is due)."""


class AuthenticationFailed(SharePointError):
    """The app could not sign in, or Microsoft Graph rejected its token (401)."""


class AccessDenied(SharePointError):
    """Microsoft Graph refused access to the item (403)."""


class NotFound(SharePointError):
    """The item does not exist or the app cannot see it (404)."""


class Conflict(SharePointError):
    """A file with that name already exists and the conflict rule forbids replacing it (409)."""


class Throttled(SharePointError):
    """Microsoft Graph kept answering 429/503 until the retry budget ran out."""


class TransientFailure(SharePointError):
    """Microsoft Graph kept failing (5xx, timeouts, connection errors) until the retry budget ran out."""


class DownloadTooLarge(SharePointError):
    """The file is larger than the configured download cap."""


class UnexpectedResponse(SharePointError):
    """Microsoft Graph answered with a status or body this client does not understand."""
