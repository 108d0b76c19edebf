"""SharePoint settings, read from DOCJOBS_SHAREPOINT_* environment variables and secret files."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, TypeVar
from urllib.parse import urlsplit

from .errors import InvalidSetting, NotConfigured

ENV_PREFIX = "DOCJOBS_SHAREPOINT_"
MIB = 1024 * 1024
# Graph requires upload-session chunks to be multiples of 320 KiB (except the last one).
UPLOAD_CHUNK_UNIT = 320 * 1024
DEFAULT_ALLOWED_HOSTS = ("*.sharepoint.com", "graph.microsoft.com")

_T = TypeVar("_T")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class SharePointSettings:
    """Where Graph and the login authority are, how to sign in, and the safety limits."""

    tenant_id: str = ""
    client_id: str = ""
    # Secrets stay out of repr() so that logging a settings object never leaks them.
    client_secret: str = field(default="", repr=False)
    certificate_pem: str = field(default="", repr=False)
    certificate_thumbprint: str = ""
    graph_base_url: str = "https://graph.microsoft.com"
    authority_host: str = "https://login.microsoftonline.com"
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    allow_private_addresses: bool = False
    ca_bundle: str | None = None
    # 100 MiB: far above any workbook or deck people fill by hand, far below the worker's memory.
    max_download_bytes: int = 100 * MIB
    # 4 MiB: Graph's documented ceiling for a single-request PUT upload.
    upload_session_threshold_bytes: int = 4 * MIB
    # 10 MiB (32 x 320 KiB): inside Graph's recommended 5-10 MiB chunk range.
    upload_chunk_bytes: int = 32 * UPLOAD_CHUNK_UNIT
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    retry_attempts: int = 5
    retry_max_seconds: float = 120.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "graph_base_url", _https_origin("GRAPH_BASE_URL", self.graph_base_url))
        object.__setattr__(self, "authority_host", _https_origin("AUTHORITY_HOST", self.authority_host))
        object.__setattr__(self, "allowed_hosts", tuple(_host_pattern(p) for p in self.allowed_hosts))
        for name in ("max_download_bytes", "upload_session_threshold_bytes", "upload_chunk_bytes"):
            _require(getattr(self, name) > 0, name, "must be a positive number of bytes")
        _require(
            self.upload_chunk_bytes % UPLOAD_CHUNK_UNIT == 0,
            "upload_chunk_bytes",
            f"must be a multiple of 320 KiB ({UPLOAD_CHUNK_UNIT} bytes), as Graph requires",
        )
        for name in ("connect_timeout_seconds", "read_timeout_seconds"):
            _require(getattr(self, name) > 0, name, "must be a positive number of seconds")
        _require(self.retry_attempts >= 1, "retry_attempts", "must be at least 1")
        _require(self.retry_max_seconds >= 0, "retry_max_seconds", "must not be negative")
        _require(
            not (self.certificate_pem and not _has_certificate_id(self)),
            "certificate_thumbprint",
            "is required with a certificate key unless the PEM file also holds the certificate",
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """Build settings from DOCJOBS_SHAREPOINT_* variables; unset ones keep their defaults."""
        env = _Env(environ)
        defaults = cls()
        return cls(
            tenant_id=env.text("TENANT_ID"),
            client_id=env.text("CLIENT_ID"),
            client_secret=env.secret("CLIENT_SECRET"),
            certificate_pem=env.file_text("CERTIFICATE_FILE"),
            certificate_thumbprint=env.text("CERTIFICATE_THUMBPRINT").replace(":", ""),
            graph_base_url=env.text("GRAPH_BASE_URL") or defaults.graph_base_url,
            authority_host=env.text("AUTHORITY_HOST") or defaults.authority_host,
            allowed_hosts=env.host_list("ALLOWED_HOSTS", defaults.allowed_hosts),
            allow_private_addresses=env.parse("ALLOW_PRIVATE_ADDRESSES", _parse_bool, False),
            ca_bundle=env.text("CA_BUNDLE") or None,
            max_download_bytes=env.parse("MAX_DOWNLOAD_BYTES", int, defaults.max_download_bytes),
            upload_session_threshold_bytes=env.parse(
                "UPLOAD_SESSION_THRESHOLD_BYTES", int, defaults.upload_session_threshold_bytes
            ),
            upload_chunk_bytes=env.parse("UPLOAD_CHUNK_BYTES", int, defaults.upload_chunk_bytes),
            connect_timeout_seconds=env.parse("CONNECT_TIMEOUT_SECONDS", float, defaults.connect_timeout_seconds),
            read_timeout_seconds=env.parse("READ_TIMEOUT_SECONDS", float, defaults.read_timeout_seconds),
            retry_attempts=env.parse("RETRY_ATTEMPTS", int, defaults.retry_attempts),
            retry_max_seconds=env.parse("RETRY_MAX_SECONDS", float, defaults.retry_max_seconds),
        )

    @property
    def graph_host(self) -> str:
        """The host name of the Graph endpoint, which is always allowed."""
        return urlsplit(self.graph_base_url).hostname or ""

    def require_credentials(self) -> None:
        """Raise NotConfigured, naming the missing variables, unless the app can sign in."""
        missing = [
            ENV_PREFIX + name
            for name, value in (("TENANT_ID", self.tenant_id), ("CLIENT_ID", self.client_id))
            if not value
        ]
        if not (self.client_secret or self.certificate_pem):
            missing.append(
                f"{ENV_PREFIX}CLIENT_SECRET (or {ENV_PREFIX}CLIENT_SECRET_FILE, or {ENV_PREFIX}CERTIFICATE_FILE)"
            )
        if missing:
            raise NotConfigured("SharePoint is not configured on this server: set " + ", ".join(missing) + ".")


class _Env:
    """Typed reads of DOCJOBS_SHAREPOINT_* variables with messages that name the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, key: str) -> str:
        return self._environ.get(ENV_PREFIX + key, "").strip()

    def file_text(self, key: str) -> str:
        path = self.text(key)
        if not path:
            return ""
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            # The path is configuration, not a secret; the file's content never appears here.
            raise InvalidSetting(f"{ENV_PREFIX}{key}: cannot read {path!r}: {error.strerror}") from error

    def secret(self, key: str) -> str:
        """A secret given inline or, preferably, as a file (Docker / Kubernetes secrets)."""
        inline, from_file = self.text(key), self.file_text(key + "_FILE")
        if inline and from_file:
            raise InvalidSetting(f"Set only one of {ENV_PREFIX}{key} and {ENV_PREFIX}{key}_FILE.")
        return inline or from_file

    def host_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        raw = self.text(key)
        if not raw:
            return default
        return tuple(item.strip() for item in raw.split(",") if item.strip())

    def parse(self, key: str, parse: Callable[[str], _T], default: _T) -> _T:
        raw = self.text(key)
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            kind = _KINDS.get(parse.__name__, "value")
            raise InvalidSetting(f"{ENV_PREFIX}{key}: {raw!r} is not a valid {kind}.") from error


_KINDS = {"int": "integer", "float": "number", "_parse_bool": "true/false value (true, false, 1, 0)"}


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(raw)


def _require(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise InvalidSetting(f"{ENV_PREFIX}{name.upper()} {message}.")


def _https_origin(name: str, url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise InvalidSetting(f"{ENV_PREFIX}{name} must be an https origin such as https://host, got {url!r}.")
    return f"https://{parts.netloc}"


def _host_pattern(pattern: str) -> str:
    host = pattern.strip().lower().rstrip(".").strip("[]")
    bare = host.removeprefix("*.")
    if not (_HOST_NAME.fullmatch(bare) or _is_ip(bare)):
        raise InvalidSetting(f"{ENV_PREFIX}ALLOWED_HOSTS: {pattern!r} is not a host name or a '*.domain' pattern.")
    return host


_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _has_certificate_id(settings: SharePointSettings) -> bool:
    return bool(settings.certificate_thumbprint) or "BEGIN CERTIFICATE" in settings.certificate_pem
