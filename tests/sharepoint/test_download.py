"""Downloads through the shares API against the fake Graph, with the real msal and aiohttp code."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace

import pytest

from handlers.sharepoint import (
    AccessDenied,
    AuthenticationFailed,
    DownloadTooLarge,
    InvalidRequest,
    NotFound,
    SharePointSettings,
    Throttled,
    TransientFailure,
    UrlNotAllowed,
    download,
)

from .fake_graph import FakeGraph

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOK = b"PK\x03\x04 workbook bytes"


def test_sharing_url_is_downloaded_through_graph(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("Budget.xlsx", WORKBOOK, mime_type=XLSX)

    result = download(item.sharing_url, settings=sharepoint_settings)

    assert result.data == WORKBOOK
    assert (result.name, result.content_type, result.item_id, result.size) == (
        "Budget.xlsx",
        XLSX,
        item.id,
        len(WORKBOOK),
    )
    assert result.web_url == item.web_url
    assert result.drive_id.startswith("b!")
    # Metadata, content (302), then the pre-authenticated URL, which must not get the token.
    assert [path.split("/")[1] for _, path in fake_graph.requests[-3:]] == ["v1.0", "v1.0", "download"]
    assert fake_graph.leaked_authorization == []


def test_token_is_requested_once_for_several_downloads(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    items = [fake_graph.drive.add_file(f"book{n}.xlsx", WORKBOOK) for n in range(3)]

    for item in items:
        download(item.sharing_url, settings=sharepoint_settings)

    assert fake_graph.token_requests == 1


def test_throttled_request_is_retried_and_succeeds(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.fail(429, times=1, retry_after="1")

    started = time.monotonic()
    assert download(item.sharing_url, settings=sharepoint_settings).data == WORKBOOK

    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not honoured"
    assert sum("/shares/" in path and not path.endswith("/content") for _, path in fake_graph.requests) == 2


def test_server_error_is_retried_with_backoff(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.fail(502, times=2)

    assert download(item.sharing_url, settings=sharepoint_settings).data == WORKBOOK


def test_persistent_503_gives_up_with_throttled(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.fail(503, times=100, retry_after="0")

    with pytest.raises(Throttled, match=r"throttling requests \(503\).*gave up after up to 3 attempts"):
        download(item.sharing_url, settings=sharepoint_settings)

    assert sum("/v1.0/shares/" in path for _, path in fake_graph.requests) == 3


def test_retry_after_beyond_the_time_budget_gives_up_at_once(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.fail(429, times=100, retry_after="30")

    started = time.monotonic()
    with pytest.raises(Throttled, match=r"\(429\)"):
        download(item.sharing_url, settings=sharepoint_settings)

    assert time.monotonic() - started < 3


def test_persistent_500_gives_up_with_transient_failure(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.fail(500, times=100, retry_after="0")

    with pytest.raises(TransientFailure, match=r"kept failing \(500\)"):
        download(item.sharing_url, settings=sharepoint_settings)


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, AuthenticationFailed, r"rejected the app's access token \(401\)"),
        (403, AccessDenied, r"Access to the SharePoint file was denied \(403\)"),
        (404, NotFound, r"SharePoint file not found \(404\): https://contoso\.sharepoint\.com/"),
    ],
)
def test_client_errors_fail_at_once_and_say_which(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings, status: int, error: type[Exception], message: str
) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.fail(status, times=100)

    with pytest.raises(error, match=message):
        download(item.sharing_url, settings=sharepoint_settings)

    assert sum("/v1.0/" in path for _, path in fake_graph.requests) == 1


def test_unknown_sharing_url_is_not_found(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    with pytest.raises(NotFound, match=r"not found \(404\).*itemNotFound"):
        download("https://contoso.sharepoint.com/:x:/s/team/Enope", settings=sharepoint_settings)


def test_folder_url_cannot_be_downloaded(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Reports")

    with pytest.raises(InvalidRequest, match="points to a folder"):
        download(folder.sharing_url, settings=sharepoint_settings)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("https://evil.example.com/steal?tempauth=x", r"redirected to host 'evil\.example\.com', which is not on"),
        ("http://127.0.0.1/download/1", r"redirected to a URL with 'http' instead of 'https'"),
    ],
)
def test_redirect_off_the_allow_list_is_refused(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings, location: str, message: str
) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.redirect_downloads_to = location

    with pytest.raises(UrlNotAllowed, match=message):
        download(item.sharing_url, settings=sharepoint_settings)


def test_file_over_the_cap_by_metadata_is_refused_before_download(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("big.xlsx", b"x" * 2000)

    with pytest.raises(DownloadTooLarge, match=r"it is 2000 bytes, the limit is 1000 bytes"):
        download(item.sharing_url, settings=replace(sharepoint_settings, max_download_bytes=1000))

    assert not any(path.endswith("/content") for _, path in fake_graph.requests)


def test_content_length_over_the_cap_is_refused_before_reading(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("big.xlsx", b"x" * 2000)
    item.reported_size = 10  # the metadata lies; the Content-Length header does not

    with pytest.raises(DownloadTooLarge, match=r"declares 2000 bytes, the limit is 1000 bytes"):
        download(item.sharing_url, max_bytes=1000, settings=sharepoint_settings)


def test_stream_over_the_cap_without_content_length_is_refused(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("big.xlsx", b"x" * 300_000)
    item.reported_size = 10
    fake_graph.chunked_downloads = True

    with pytest.raises(DownloadTooLarge, match=r"sent more than 100000 bytes"):
        download(item.sharing_url, max_bytes=100_000, settings=sharepoint_settings)


def test_max_bytes_cannot_raise_the_configured_cap(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("big.xlsx", b"x" * 2000)
    settings = replace(sharepoint_settings, max_download_bytes=1000)

    with pytest.raises(DownloadTooLarge, match="the limit is 1000 bytes"):
        download(item.sharing_url, max_bytes=10_000, settings=settings)


def test_no_token_secret_or_download_url_is_logged(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings, caplog: pytest.LogCaptureFixture
) -> None:
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.fail(429, times=1, retry_after="0")
    caplog.set_level(logging.DEBUG)

    download(item.sharing_url, settings=sharepoint_settings)

    assert "graph GET" in caplog.text
    for secret in (*fake_graph.login.issued, sharepoint_settings.client_secret, "tempauth"):
        assert secret not in caplog.text
    assert sharepoint_settings.client_secret not in repr(sharepoint_settings)


def test_unreachable_graph_gives_up_with_a_connection_error(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = replace(sharepoint_settings, graph_base_url=f"https://127.0.0.1:{port}", retry_attempts=2)
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)

    with pytest.raises(TransientFailure, match=r"Could not talk to Microsoft Graph \(ClientConnectorError\)"):
        download(item.sharing_url, settings=settings)


def test_slow_graph_hits_the_read_timeout(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    settings = replace(sharepoint_settings, read_timeout_seconds=0.2, retry_attempts=1)
    item = fake_graph.drive.add_file("book.xlsx", WORKBOOK)
    fake_graph.graph_delay_seconds = 2

    started = time.monotonic()
    with pytest.raises(TransientFailure, match=r"did not answer in time \(connect timeout 5 s, read timeout 0.2 s\)"):
        download(item.sharing_url, settings=settings)

    assert time.monotonic() - started < 1.5
