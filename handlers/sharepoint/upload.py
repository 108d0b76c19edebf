"""Uploads: a single PUT for small files, an upload session in 320 KiB-multiple chunks for large ones."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any
from urllib.parse import quote

from .errors import InvalidRequest, SharePointError, UnexpectedResponse
from .graph import DriveItem, shared_item
from .responses import Target
from .settings import SharePointSettings
from .transport import GraphTransport

log = logging.getLogger(__name__)

CONFLICT_BEHAVIOURS = ("replace", "fail", "rename")
# Characters SharePoint and OneDrive refuse in file names, plus control characters.
_FORBIDDEN_NAME = re.compile(r'["*:<>?/\\|\x00-\x1f]')
# SharePoint's limit on one path segment.
_MAX_NAME_LENGTH = 255
_CONTEXT = "the upload session is at "


def check_file_name(file_name: str) -> None:
    """Refuse names SharePoint would reject, before any request is made."""
    problem = ""
    if not file_name.strip() or file_name in (".", ".."):
        problem = "is empty"
    elif len(file_name) > _MAX_NAME_LENGTH:
        problem = f"is longer than {_MAX_NAME_LENGTH} characters"
    elif _FORBIDDEN_NAME.search(file_name):
        problem = 'contains a character SharePoint does not allow (" * : < > ? / \\ | or a control character)'
    elif file_name != file_name.strip() or file_name.endswith("."):
        problem = "starts or ends with a space, or ends with a dot"
    if problem:
        raise InvalidRequest(f"Invalid file name {file_name!r}: it {problem}.")


def check_conflict(conflict: str) -> None:
    """Refuse a conflict behaviour Graph does not know."""
    if conflict not in CONFLICT_BEHAVIOURS:
        raise InvalidRequest(f"Invalid conflict rule {conflict!r}: use one of {', '.join(CONFLICT_BEHAVIOURS)}.")


async def upload_to_folder(
    transport: GraphTransport,
    settings: SharePointSettings,
    folder_url: str,
    file_name: str,
    data: bytes,
    content_type: str,
    conflict: str,
) -> DriveItem:
    """Create (or replace, per `conflict`) `file_name` in the folder a sharing URL points at."""
    folder = await shared_item(transport, folder_url, Target("SharePoint folder", folder_url))
    if not folder.is_folder:
        raise InvalidRequest(f"The upload destination is a file, not a folder: {Target('folder', folder_url)}")
    target = Target("SharePoint file", f"{folder.web_url or folder_url.rstrip('/')}/{file_name}")
    base = f"{_item_url(transport, folder)}:/{quote(file_name, safe='')}:"
    if len(data) <= settings.upload_session_threshold_bytes:
        body = await transport.json(
            "PUT",
            f"{base}/content?@microsoft.graph.conflictBehavior={conflict}",
            target,
            data=data,
            headers={"Content-Type": content_type},
        )
        return DriveItem.from_graph(body, target)
    session = {"item": {"@microsoft.graph.conflictBehavior": conflict, "name": file_name}}
    return await _upload_in_session(transport, settings, f"{base}/createUploadSession", session, data, target)


async def overwrite(
    transport: GraphTransport, settings: SharePointSettings, url: str, data: bytes, content_type: str
) -> DriveItem:
    """Replace the content of the file a sharing or file URL points at, keeping its id and URL."""
    target = Target("SharePoint file", url)
    item = await shared_item(transport, url, target)
    if item.is_folder:
        raise InvalidRequest(f"The URL points to a folder, not a file, so it cannot be overwritten: {target}")
    base = _item_url(transport, item)
    if len(data) <= settings.upload_session_threshold_bytes:
        body = await transport.json("PUT", f"{base}/content", target, data=data, headers={"Content-Type": content_type})
        return DriveItem.from_graph(body, target)
    session = {"item": {"@microsoft.graph.conflictBehavior": "replace"}}
    return await _upload_in_session(transport, settings, f"{base}/createUploadSession", session, data, target)


async def _upload_in_session(
    transport: GraphTransport,
    settings: SharePointSettings,
    create_url: str,
    session_body: dict[str, Any],
    data: bytes,
    target: Target,
) -> DriveItem:
    session = await transport.json("POST", create_url, target, json=session_body)
    upload_url = session.get("uploadUrl")
    if not isinstance(upload_url, str):
        raise UnexpectedResponse(f"Microsoft Graph opened an upload session without an upload URL: {target}")
    try:
        return await _send_chunks(transport, settings.upload_chunk_bytes, upload_url, data, target)
    except SharePointError:
        with contextlib.suppress(SharePointError):
            # Best effort: free the server-side session rather than leave it to expire.
            async with transport.request("DELETE", upload_url, target, authorized=False, context=_CONTEXT):
                pass
        raise


async def _send_chunks(
    transport: GraphTransport, chunk_bytes: int, upload_url: str, data: bytes, target: Target
) -> DriveItem:
    total, start = len(data), 0
    while True:
        end = min(start + chunk_bytes, total) - 1
        # The upload URL is pre-authenticated; Graph documents that sending the token there fails.
        body = await transport.json(
            "PUT",
            upload_url,
            target,
            authorized=False,
            context=_CONTEXT,
            data=data[start : end + 1],
            headers={"Content-Range": f"bytes {start}-{end}/{total}"},
        )
        if "id" in body:
            return DriveItem.from_graph(body, target)
        next_start = _next_expected_start(body, end + 1)
        if not start < next_start < total:
            raise UnexpectedResponse(f"Microsoft Graph lost track of the upload session: {target}")
        log.debug("upload session: %d of %d bytes sent", next_start, total)
        start = next_start


def _next_expected_start(body: dict[str, Any], default: int) -> int:
    # Graph answers 202 with nextExpectedRanges such as ["26-"] or ["26-51", "80-"]: resume there.
    ranges = body.get("nextExpectedRanges") or []
    try:
        return int(str(ranges[0]).split("-", 1)[0])
    except (IndexError, ValueError):
        return default


def _item_url(transport: GraphTransport, item: DriveItem) -> str:
    return f"{transport.graph_url}/drives/{quote(item.drive_id, safe='')}/items/{quote(item.id, safe='')}"
