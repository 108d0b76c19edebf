"""Structural checks of a payload; every message names the field it is about."""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import Any

import pybase64

from handlers.common.errors import PayloadError

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_WHITESPACE = b"\r\n\t "
_DATA_URL = re.compile(r"data:[\w.+/-]*;base64,")  # browsers hand files over as data URLs


def require_mapping(value: object, field: str) -> Mapping[str, Any]:
    """`value` as a JSON object, or a PayloadError naming `field`."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"{field}: expected an object, got {type_name(value)}")
    return value


def require_list(value: object, field: str) -> list[Any]:
    """`value` as a JSON array, or a PayloadError naming `field`."""
    if not isinstance(value, list):
        raise PayloadError(f"{field}: expected a list, got {type_name(value)}")
    return value


def require_str(value: object, field: str) -> str:
    """`value` as a non-empty string, or a PayloadError naming `field`."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{field}: expected a non-empty string, got {type_name(value)}")
    return value


def optional_str(payload: Mapping[str, Any], key: str, field: str) -> str | None:
    """`payload[key]` as a non-empty string when present."""
    value = payload.get(key)
    return None if value is None else require_str(value, field)


def check_keys(payload: Mapping[str, Any], allowed: set[str], field: str) -> None:
    """Refuse unknown keys, so that a misspelt option fails loudly instead of being ignored."""
    unknown = sorted(set(payload) - allowed)
    if unknown:
        where = f"{field}: " if field else ""
        raise PayloadError(f"{where}unknown field(s) {', '.join(map(repr, unknown))}")


def check_base64(value: object, field: str) -> None:
    """Check that `value` looks like standard base64 without decoding it (validation must stay cheap)."""
    raw = _strip_data_url(require_str(value, field)).encode("ascii", errors="replace")
    # translate() runs at C speed, so this stays cheap for a file of tens of megabytes.
    payload = raw.translate(None, _WHITESPACE)
    padding = payload.translate(None, _ALPHABET)
    if padding not in (b"", b"=", b"==") or not payload.endswith(padding) or len(payload) % 4:
        raise PayloadError(f"{field}: not valid base64")


def decode_base64(value: str, field: str) -> bytes:
    """Decode standard base64, or a PayloadError naming `field`."""
    text = _strip_data_url(value)
    try:
        # pybase64 (SIMD) decodes ~15x faster than binascii; it takes the strict form only, so text
        # with line breaks or other characters that base64 readers skip falls back to binascii.
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=False)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise PayloadError(f"{field}: not valid base64 ({error})") from None


def one_source(payload: Mapping[str, Any], url_key: str, base64_key: str, *, check_content: bool = True) -> None:
    """Exactly one of a SharePoint URL and an inline base64 file must be given.

    `check_content=False` leaves the base64 text unchecked, for a handler that decodes it next anyway
    (decoding checks it too, and the check is a pass over a file of tens of megabytes).
    """
    has_url, has_inline = payload.get(url_key) is not None, payload.get(base64_key) is not None
    if has_url == has_inline:
        raise PayloadError(f"give exactly one of '{url_key}' and '{base64_key}'")
    if has_url:
        check_url(payload[url_key], url_key)
    elif check_content:
        check_base64(payload[base64_key], base64_key)


def check_url(value: object, field: str) -> str:
    """`value` as a URL the SharePoint client would fetch (https, allow-list, public address).

    Network-free (host names are resolved and checked when the connection is made), so a URL that
    can never be fetched is a 400 at /jobs/start instead of a failed job.
    """
    url = require_str(value, field)
    if not url.lower().startswith("https://"):
        raise PayloadError(f"{field}: must be an https:// URL")
    try:
        from handlers import sharepoint  # noqa: PLC0415 - optional, only for SharePoint payloads
    except ImportError:
        return url  # the job will say that SharePoint is unavailable
    try:
        sharepoint.validate_url(url)
    except sharepoint.UrlNotAllowed as error:
        raise PayloadError(f"{field}: {error}") from None
    except sharepoint.SharePointError:
        # A server misconfiguration (an invalid DOCJOBS_SHAREPOINT_* value), not a payload fault:
        # the job reports it, and the download checks the URL again anyway.
        pass
    return url


def type_name(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _strip_data_url(text: str) -> str:
    match = _DATA_URL.match(text)
    return text[match.end() :] if match else text
