"""Which URLs may be fetched: https only, hosts on the allow-list, public addresses; share ids."""

from __future__ import annotations

import base64
import ipaddress
from urllib.parse import SplitResult, urlsplit

from .errors import UrlNotAllowed
from .settings import SharePointSettings


def share_id(url: str) -> str:
    """Graph's id for a sharing URL: "u!" + unpadded base64url of the URL (Graph shares API docs)."""
    encoded = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii")
    return "u!" + encoded.rstrip("=")


def host_matches(host: str, pattern: str) -> bool:
    """True when host equals pattern, or is a subdomain of it for a "*.domain" pattern."""
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def is_public_address(address: str) -> bool:
    """False for loopback, link-local, private, multicast, reserved and other non-global addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback in disguise
    return ip.is_global and not ip.is_multicast


def check_url(url: str, settings: SharePointSettings, *, context: str = "") -> SplitResult:
    """Refuse anything but an https URL on an allowed host; the Graph host is always allowed.

    `context` says where the URL came from ("the download was redirected to "), for the message.
    Host names are checked against the allow-list here; their resolved addresses are checked when
    the connection is made (see transport.GuardedResolver), so DNS rebinding cannot slip past.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise UrlNotAllowed(f"URL not allowed: {context}a malformed URL") from error
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "https":
        scheme = parts.scheme or "no scheme"
        raise UrlNotAllowed(f"URL not allowed: {context}a URL with {scheme!r} instead of 'https'")
    if not host or parts.username is not None or parts.password is not None:
        raise UrlNotAllowed(f"URL not allowed: {context}a URL without a host or with embedded credentials")
    patterns = (*settings.allowed_hosts, settings.graph_host)
    if not any(host_matches(host, pattern) for pattern in patterns):
        listed = ", ".join(settings.allowed_hosts)
        raise UrlNotAllowed(f"URL not allowed: {context}host {host!r}, which is not on the allow-list ({listed})")
    if parts.port not in (None, 443) and (host, parts.port) != _graph_origin(settings):
        raise UrlNotAllowed(
            f"URL not allowed: {context}port {parts.port} on host {host!r}; SharePoint and Graph are reached "
            "on the https port 443 only"
        )
    check_address(host, host, settings)
    return parts


def _graph_origin(settings: SharePointSettings) -> tuple[str, int | None]:
    # The configured Graph endpoint may name a port of its own (a test double, a proxy).
    parts = urlsplit(settings.graph_base_url)
    return (parts.hostname or "").rstrip("."), parts.port


def check_address(host: str, address: str, settings: SharePointSettings) -> None:
    """Refuse a non-public address (a literal host or a resolved one) unless the settings allow it."""
    if settings.allow_private_addresses or not _is_ip(address):
        return
    if not is_public_address(address):
        shown = f"host {host!r} resolves to" if host != address else "host"
        raise UrlNotAllowed(
            f"URL not allowed: {shown} {address!r}, a loopback, link-local, private or otherwise "
            "non-public address (set DOCJOBS_SHAREPOINT_ALLOW_PRIVATE_ADDRESSES=true only for tests)"
        )


def redacted(url: str) -> str:
    """The URL without its query and fragment, which for Graph download URLs hold a bearer token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True
