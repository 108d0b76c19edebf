"""Where input files come from and where outputs go: inline base64, or SharePoint.

SharePoint I/O lives in `handlers.sharepoint`; it is imported only when a payload asks for it, so the
inline sources keep working where it is not installed or configured.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.common.errors import PayloadError, SourceUnavailable
from handlers.common.payload import check_keys, check_url, decode_base64, optional_str, require_mapping
from handlers.common.safety import Limits

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file given to a handler: its bytes, a display name, and the URL it came from if any."""

    name: str
    data: bytes
    url: str | None = None


def load_source(
    payload: Mapping[str, Any], url_key: str, base64_key: str, default_name: str, limits: Limits
) -> SourceFile:
    """The file named by `url_key` (downloaded) or `base64_key` (decoded), capped at the input limit."""
    max_bytes = limits.max_input_mb * _MIB
    name = optional_str(payload, "file_name", "file_name") or default_name
    url = optional_str(payload, url_key, url_key)
    if url is not None:
        sharepoint = _sharepoint()
        downloaded = sharepoint.download(url, max_bytes=max_bytes)
        return SourceFile(downloaded.name or name, downloaded.data, url)
    encoded = payload.get(base64_key)
    if not isinstance(encoded, str):
        raise PayloadError(f"give exactly one of '{url_key}' and '{base64_key}'")
    # base64 is 4/3 of the data; checked before decoding so an oversized file is never copied.
    if len(encoded) > max_bytes * 4 // 3 + 4:
        raise PayloadError(f"{base64_key}: the file is larger than the {limits.max_input_mb} MiB limit")
    return SourceFile(name, decode_base64(encoded, base64_key))


def file_result(name: str, data: bytes, content_type: str) -> dict[str, Any]:
    """The `data.file` object of a handler result."""
    return {
        "name": name,
        "content_type": content_type,
        "size": len(data),
        "base64": base64.b64encode(data).decode("ascii"),
    }


def upload_to_folder(folder_url: str, file_name: str, data: bytes, content_type: str) -> dict[str, Any]:
    """Upload an output into a SharePoint folder; returns the item description ({"url", ...})."""
    return dict(_sharepoint().upload_to_folder(folder_url, file_name, data, content_type))


def overwrite(url: str, data: bytes, content_type: str) -> dict[str, Any]:
    """Replace the SharePoint file at `url` with `data`; returns the item description."""
    return dict(_sharepoint().overwrite(url, data, content_type))


def output_options(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The optional `output` object of a payload."""
    value = payload.get("output")
    return {} if value is None else require_mapping(value, "output")


def _sharepoint() -> Any:
    try:
        from handlers import sharepoint  # noqa: PLC0415 - optional, only for SharePoint payloads
    except ImportError as error:
        raise SourceUnavailable(f"SharePoint access is not available on this server ({error})") from None
    return sharepoint


def check_output(payload: Mapping[str, Any], *, can_overwrite: bool, source_url_key: str) -> None:
    """Check the optional `output` object: file_name, sharepoint_folder_url, overwrite_source, return_file."""
    output = output_options(payload)
    allowed = {"file_name", "sharepoint_folder_url", "return_file"} | ({"overwrite_source"} if can_overwrite else set())
    check_keys(output, allowed, "output")
    optional_str(output, "file_name", "output.file_name")
    folder = output.get("sharepoint_folder_url")
    if folder is not None:
        check_url(folder, "output.sharepoint_folder_url")
    for flag in ("overwrite_source", "return_file"):
        if not isinstance(output.get(flag, False), bool):
            raise PayloadError(f"output.{flag}: expected true or false")
    if output.get("overwrite_source") and payload.get(source_url_key) is None:
        raise PayloadError(f"output.overwrite_source: needs the file to come from '{source_url_key}'")
    if output.get("return_file") is False and folder is None and not output.get("overwrite_source"):
        raise PayloadError("output.return_file: false would leave the result nowhere; give an upload target")


def deliver(
    payload: Mapping[str, Any], data: bytes, default_name: str, content_type: str, source: SourceFile
) -> dict[str, Any]:
    """Return and/or upload an output file as asked by `output`; the `file`/`uploaded` result fields."""
    output = output_options(payload)
    name = output.get("file_name") or default_name
    result: dict[str, Any] = {}
    if output.get("return_file", True):
        result["file"] = file_result(name, data, content_type)
    if output.get("sharepoint_folder_url"):
        result["uploaded"] = upload_to_folder(output["sharepoint_folder_url"], name, data, content_type)
    elif output.get("overwrite_source") and source.url is not None:
        result["uploaded"] = overwrite(source.url, data, content_type)
    return result
