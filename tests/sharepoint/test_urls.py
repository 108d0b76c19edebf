"""The allow-list, the https rule, the private-address rule and share id encoding."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.sharepoint import SharePointSettings, UrlNotAllowed, download, validate_url
from handlers.sharepoint.urls import host_matches, is_public_address, share_id

from .fake_graph import FakeGraph

DEFAULTS = SharePointSettings()


def test_share_id_matches_microsofts_documented_encoding() -> None:
    # The example from the Graph "shares" documentation, encoded by hand: base64, "=" stripped,
    # "/" -> "_", "+" -> "-", then "u!" in front.
    url = "https://onedrive.live.com/redir?resid=1231244193912!12&authKey=1201919!12921!1"

    assert (
        share_id(url)
        == "u!aHR0cHM6Ly9vbmVkcml2ZS5saXZlLmNvbS9yZWRpcj9yZXNpZD0xMjMxMjQ0MTkzOTEyITEyJmF1dGhLZXk9MTIwMTkxOSExMjkyMSEx"
    )
    assert share_id("https://x/??>") == "u!aHR0cHM6Ly94Lz8_Pg"


@pytest.mark.parametrize(
    ("host", "pattern", "allowed"),
    [
        ("contoso.sharepoint.com", "*.sharepoint.com", True),
        ("Contoso-My.SharePoint.com.", "*.sharepoint.com", True),
        ("sharepoint.com", "*.sharepoint.com", False),
        ("evilsharepoint.com", "*.sharepoint.com", False),
        ("contoso.sharepoint.com.evil.io", "*.sharepoint.com", False),
        ("graph.microsoft.com", "graph.microsoft.com", True),
        ("x.graph.microsoft.com", "graph.microsoft.com", False),
    ],
)
def test_host_patterns(host: str, pattern: str, allowed: bool) -> None:
    assert host_matches(host, pattern) is allowed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://contoso.sharepoint.com/:x:/s/a/b", "with 'http' instead of 'https'"),
        ("ftp://contoso.sharepoint.com/a", "with 'ftp' instead of 'https'"),
        ("contoso.sharepoint.com/a", "with 'no scheme' instead of 'https'"),
        ("https://evil.com/a.xlsx", "host 'evil.com', which is not on the allow-list"),
        ("https://user:pw@contoso.sharepoint.com/a", "embedded credentials"),
        ("https://contoso.sharepoint.com:99999/a", "malformed URL"),
    ],
)
def test_urls_off_the_rules_are_refused(url: str, message: str) -> None:
    with pytest.raises(UrlNotAllowed, match=message):
        validate_url(url, settings=DEFAULTS)


def test_sharepoint_and_graph_urls_pass() -> None:
    validate_url("https://contoso.sharepoint.com/:x:/s/team/EabcDEF?e=x1", settings=DEFAULTS)
    validate_url("https://graph.microsoft.com/v1.0/drives/b!x/items/01AB", settings=DEFAULTS)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),  # cloud metadata service
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("20.190.160.1", True),
        ("2603:1036::1", True),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_ip_literal_on_the_allow_list_is_still_refused_when_private() -> None:
    settings = replace(DEFAULTS, allowed_hosts=("*.sharepoint.com", "10.0.0.5"))

    with pytest.raises(UrlNotAllowed, match=r"host '10\.0\.0\.5', a loopback, link-local, private"):
        validate_url("https://10.0.0.5/share/a.xlsx", settings=settings)


def test_graph_host_resolving_to_loopback_is_refused(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    port = fake_graph.base_url.rsplit(":", 1)[1]
    settings = replace(sharepoint_settings, graph_base_url=f"https://localhost:{port}", allow_private_addresses=False)
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    with pytest.raises(UrlNotAllowed, match=r"host 'localhost' resolves to '(127\.0\.0\.1|::1)'"):
        download(item.sharing_url, settings=settings)

    assert not any(path.startswith("/v1.0/") for _, path in fake_graph.requests)


def test_graph_at_a_loopback_literal_is_refused(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    settings = replace(sharepoint_settings, allow_private_addresses=False)
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    with pytest.raises(UrlNotAllowed, match=r"host '127\.0\.0\.1', a loopback"):
        download(item.sharing_url, settings=settings)

    assert not any(path.startswith("/v1.0/") for _, path in fake_graph.requests)
