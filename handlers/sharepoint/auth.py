"""App-only access tokens for Microsoft Graph from msal's client-credentials flow."""

from __future__ import annotations

import logging
import threading
from typing import Any

import msal
import requests

from .errors import AuthenticationFailed, TransientFailure
from .settings import SharePointSettings

log = logging.getLogger(__name__)

# AAD error codes that mean "the app's identity or consent is wrong", as opposed to an outage.
_CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_request", "invalid_scope"})


class MsalHttpClient:
    """The http_client given to msal: a requests.Session that ignores the environment, with timeouts.

    trust_env is off because REQUESTS_CA_BUNDLE (and proxy variables) would otherwise override
    `verify`, so the configured CA bundle would silently not apply.
    """

    def __init__(self, settings: SharePointSettings) -> None:
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = settings.ca_bundle or True
        self._timeout = (settings.connect_timeout_seconds, settings.read_timeout_seconds)

    def get(self, url: str, **kwargs: Any) -> Any:
        """Issue a GET for msal."""
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        """Issue a POST for msal."""
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(url, **kwargs)

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()


class TokenSource:
    """One msal app per process: its in-memory token cache is what lets jobs share a token."""

    def __init__(self, settings: SharePointSettings) -> None:
        settings.require_credentials()
        self.settings = settings
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None
        self.scopes = [f"{settings.graph_base_url}/.default"]

    def access_token(self) -> str:
        """A valid token, from msal's cache when it has one, else freshly requested."""
        with self._lock:
            try:
                result = self._application().acquire_token_for_client(scopes=self.scopes)
            except requests.RequestException as error:
                raise TransientFailure(
                    f"Could not reach the Microsoft login service at {self.settings.authority_host}: "
                    f"{type(error).__name__}"
                ) from error
            except ValueError as error:
                # Raised while signing the client assertion; the message never includes the key.
                raise AuthenticationFailed(f"The certificate key could not be used to sign in: {error}") from error
        if "access_token" not in result:
            raise _token_error(result)
        log.debug("graph token from %s", result.get("token_source", "identity_provider"))
        return str(result["access_token"])

    def close(self) -> None:
        """Drop the msal app and its connections."""
        with self._lock:
            if self._app is not None:
                self._app.http_client.close()
                self._app = None

    def _application(self) -> msal.ConfidentialClientApplication:
        # Built lazily: msal fetches the tenant's OpenID configuration in the constructor, and a
        # failure there must not be cached.
        if self._app is None:
            self._app = _build_app(self.settings)
        return self._app


def _build_app(settings: SharePointSettings) -> msal.ConfidentialClientApplication:
    http_client = MsalHttpClient(settings)
    try:
        return msal.ConfidentialClientApplication(
            client_id=settings.client_id,
            client_credential=_credential(settings),
            authority=f"{settings.authority_host}/{settings.tenant_id}",
            # Offline by design: no instance discovery call to login.microsoftonline.com and no
            # regional endpoint; the authority host setting is the only place msal talks to.
            instance_discovery=False,
            azure_region=False,
            http_client=http_client,
        )
    except requests.RequestException as error:
        http_client.close()
        raise TransientFailure(
            f"Could not reach the Microsoft login service at {settings.authority_host}: {type(error).__name__}"
        ) from error
    except ValueError as error:
        http_client.close()
        # msal's message names the authority URL and the HTTP status, never a credential.
        raise AuthenticationFailed(
            f"Microsoft sign-in is misconfigured (check DOCJOBS_SHAREPOINT_TENANT_ID): {error}"
        ) from error


def _credential(settings: SharePointSettings) -> str | dict[str, str]:
    if settings.client_secret:
        return settings.client_secret
    credential = {"private_key": settings.certificate_pem}
    if settings.certificate_thumbprint:
        credential["thumbprint"] = settings.certificate_thumbprint
    else:
        # msal computes the SHA-256 thumbprint (x5t#S256) from the certificate in the same PEM file.
        credential["public_certificate"] = settings.certificate_pem
    return credential


def _token_error(result: dict[str, Any]) -> Exception:
    code = str(result.get("error", "unknown_error"))
    # The first line of AAD's description carries the AADSTS code and reason; the rest is trace ids.
    description = str(result.get("error_description", "")).splitlines()[0:1]
    detail = f": {description[0]}" if description else ""
    if code in _CREDENTIAL_ERRORS:
        return AuthenticationFailed(f"Signing in to Microsoft Entra ID failed ({code}){detail}")
    return TransientFailure(f"The Microsoft login service could not issue a token ({code}){detail}")
