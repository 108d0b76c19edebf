"""The synchronous API the document handlers call from their worker processes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from . import graph, upload
from .errors import InvalidRequest
from .graph import DownloadedFile
from .settings import SharePointSettings
from .state import PROCESS_CACHE
from .transport import GraphTransport
from .urls import check_url

_T = TypeVar("_T")


def validate_url(url: str, *, settings: SharePointSettings | None = None) -> None:
    """Raise UrlNotAllowed unless the URL could be fetched; no network (for payload validation)."""
    check_url(url, settings or PROCESS_CACHE.settings())


def download(url: str, *, max_bytes: int | None = None, settings: SharePointSettings | None = None) -> DownloadedFile:
    """Download the file behind a SharePoint / OneDrive sharing or file URL."""
    settings = settings or PROCESS_CACHE.settings()
    check_url(url, settings)
    if max_bytes is not None and max_bytes <= 0:
        raise InvalidRequest(f"max_bytes must be positive, got {max_bytes}.")
    # The operator's cap always applies; a handler may only ask for less.
    limit = min(max_bytes or settings.max_download_bytes, settings.max_download_bytes)
    return _run(settings, lambda transport: graph.download(transport, url, limit))


def upload_to_folder(
    folder_url: str,
    file_name: str,
    data: bytes,
    content_type: str,
    *,
    conflict: str = "replace",
    settings: SharePointSettings | None = None,
) -> dict[str, Any]:
    """Upload `data` as `file_name` into the folder a sharing URL points at.

    `conflict` is Graph's rule for an existing file of that name: "replace", "fail" or "rename".
    Returns {"url", "id", "name", "size", "drive_id"} of the stored item.
    """
    settings = settings or PROCESS_CACHE.settings()
    check_url(folder_url, settings)
    upload.check_file_name(file_name)
    upload.check_conflict(conflict)
    item = _run(
        settings,
        lambda transport: upload.upload_to_folder(
            transport, settings, folder_url, file_name, data, content_type, conflict
        ),
    )
    return item.as_result()


def overwrite(
    url: str, data: bytes, content_type: str, *, settings: SharePointSettings | None = None
) -> dict[str, Any]:
    """Replace the content of the file the URL points at; returns the same dict as upload_to_folder."""
    settings = settings or PROCESS_CACHE.settings()
    check_url(url, settings)
    item = _run(settings, lambda transport: upload.overwrite(transport, settings, url, data, content_type))
    return item.as_result()


def _run(settings: SharePointSettings, operation: Callable[[GraphTransport], Awaitable[_T]]) -> _T:
    # The token comes first and synchronously: msal is a blocking library, and a cached token
    # costs nothing. URL checks have already run, so a refused URL never triggers a sign-in.
    token = PROCESS_CACHE.token_source(settings).access_token()

    async def main() -> _T:
        async with GraphTransport(settings, token) as transport:
            return await operation(transport)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # Called from code that is itself inside an event loop (an async test, an async caller):
    # asyncio.run refuses to nest, so the call gets a loop of its own in a helper thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sharepoint") as pool:
        return pool.submit(asyncio.run, main()).result()
