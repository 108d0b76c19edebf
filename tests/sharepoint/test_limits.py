"""Graph's answers are read with a size limit, and allow-listed hosts are reached on port 443 only."""

from __future__ import annotations

import pytest

from handlers.sharepoint import NotFound, SharePointSettings, UnexpectedResponse, UrlNotAllowed, download, validate_url

from .fake_graph import FakeGraph

WORKBOOK = b"PK\x03\x04 workbook bytes"


def test_a_drive_item_larger_than_the_json_limit_is_refused(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("Budget.xlsx", WORKBOOK)
    fake_graph.oversized_answers = True
    with pytest.raises(UnexpectedResponse, match="over 1024 KiB"):
        download(item.sharing_url, settings=sharepoint_settings)


def test_an_error_body_larger_than_its_limit_still_gives_the_named_error(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("Budget.xlsx", WORKBOOK)
    fake_graph.oversized_answers = True
    fake_graph.fail(404, times=1)
    with pytest.raises(NotFound) as raised:
        download(item.sharing_url, settings=sharepoint_settings)
    assert "Injected failure" not in str(raised.value), "an oversized error body is not read"


@pytest.mark.parametrize("port", [80, 444, 8443, 1])
def test_an_allowed_host_on_another_port_is_refused(sharepoint_settings: SharePointSettings, port: int) -> None:
    with pytest.raises(UrlNotAllowed, match=f"port {port} "):
        validate_url(f"https://contoso.sharepoint.com:{port}/:x:/s/team/Eabc", settings=sharepoint_settings)


def test_port_443_written_out_is_allowed(sharepoint_settings: SharePointSettings) -> None:
    validate_url("https://contoso.sharepoint.com:443/:x:/s/team/Eabc", settings=sharepoint_settings)
