"""Drive items and downloads through the Graph shares API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from .errors import DownloadTooLarge, InvalidRequest, UnexpectedResponse
from .responses import Target
from .transport import GraphTransport
from .urls import share_id

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class DriveItem:
    """The fields of a Graph driveItem this package uses."""

    id: str
    drive_id: str
    name: str
    web_url: str
    size: int
    is_folder: bool
    content_type: str

    @classmethod
    def from_graph(cls, body: dict[str, Any], target: Target) -> DriveItem:
        """Parse a driveItem body; an incomplete one is an UnexpectedResponse."""
        try:
            return cls(
                id=str(body["id"]),
                drive_id=str(body["parentReference"]["driveId"]),
                name=str(body["name"]),
                web_url=str(body.get("webUrl", "")),
                size=int(body.get("size", 0)),
                is_folder="folder" in body,
                content_type=str((body.get("file") or {}).get("mimeType", "application/octet-stream")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise UnexpectedResponse(f"Microsoft Graph described the {target.kind} incompletely: {target}") from error

    def as_result(self) -> dict[str, Any]:
        """What upload and overwrite return to handlers."""
        return {"url": self.web_url, "id": self.id, "name": self.name, "size": self.size, "drive_id": self.drive_id}


@dataclass(frozen=True, slots=True)
class DownloadedFile:
    """A downloaded file and where it lives in SharePoint."""

    name: str
    content_type: str
    data: bytes
    web_url: str
    item_id: str
    drive_id: str

    @property
    def size(self) -> int:
        """Length of the content in bytes."""
        return len(self.data)


async def shared_item(transport: GraphTransport, url: str, target: Target) -> DriveItem:
    """The driveItem behind a sharing or file URL."""
    body = await transport.json("GET", f"{transport.graph_url}/shares/{share_id(url)}/driveItem", target)
    return DriveItem.from_graph(body, target)


async def download(transport: GraphTransport, url: str, limit: int) -> DownloadedFile:
    """Metadata, then content, refusing anything above `limit` bytes as early as possible."""
    target = Target("SharePoint file", url)
    item = await shared_item(transport, url, target)
    if item.is_folder:
        raise InvalidRequest(f"The URL points to a folder, not a file: {target}")
    if item.size > limit:
        raise DownloadTooLarge(_too_large(target, f"is {item.size} bytes", limit))
    content_url = f"{transport.graph_url}/shares/{share_id(url)}/driveItem/content"
    data = await _content(transport, content_url, target, limit)
    return DownloadedFile(item.name, item.content_type, data, item.web_url, item.id, item.drive_id)


async def _content(transport: GraphTransport, content_url: str, target: Target, limit: int) -> bytes:
    async with transport.request("GET", content_url, target) as response:
        if response.status not in _REDIRECT_STATUSES:
            return await read_capped(response, target, limit)
        location = response.headers.get("Location", "")
        # Relative locations resolve against the Graph URL; check_url then vets the result.
        download_url = str(response.url.join(URL(location))) if location else ""
    if not download_url:
        raise UnexpectedResponse(f"Microsoft Graph redirected the download without a location: {target}")
    # Pre-authenticated URL: the token is in its query string, so no Authorization header.
    async with transport.request(
        "GET", download_url, target, authorized=False, context="the download was redirected to "
    ) as response:
        if response.status in _REDIRECT_STATUSES:
            raise UnexpectedResponse(f"The download of the {target.kind} was redirected twice: {target}")
        return await read_capped(response, target, limit)


async def read_capped(response: aiohttp.ClientResponse, target: Target, limit: int) -> bytes:
    """The body, refused up front by Content-Length and again while counting the bytes."""
    if response.content_length is not None and response.content_length > limit:
        raise DownloadTooLarge(_too_large(target, f"declares {response.content_length} bytes", limit))
    data = bytearray()
    # Content-Length may be absent (chunked) or wrong, so the count is what really protects memory.
    async for chunk in response.content.iter_chunked(_READ_CHUNK_BYTES):
        data += chunk
        if len(data) > limit:
            raise DownloadTooLarge(_too_large(target, f"sent more than {limit} bytes", limit))
    return bytes(data)


def _too_large(target: Target, what: str, limit: int) -> str:
    return f"The {target.kind} is too large to download: it {what}, the limit is {limit} bytes: {target}"
