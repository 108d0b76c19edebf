"""Signing in with msal against the fake login: secret, certificate, and the failures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.sharepoint import AuthenticationFailed, NotConfigured, SharePointSettings, UrlNotAllowed, download

from .fake_graph import FakeGraph


def test_certificate_with_sha1_thumbprint_signs_in(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    certificate = fake_graph.login.certificate
    settings = replace(
        sharepoint_settings,
        client_secret="",
        certificate_pem=certificate.key_pem,
        certificate_thumbprint=certificate.sha1_thumbprint,
    )
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    assert download(item.sharing_url, settings=settings).data == b"data"
    assert fake_graph.token_requests == 1


def test_certificate_in_the_pem_file_needs_no_thumbprint(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    certificate = fake_graph.login.certificate
    settings = replace(
        sharepoint_settings, client_secret="", certificate_pem=certificate.key_pem + certificate.cert_pem
    )
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    assert download(item.sharing_url, settings=settings).data == b"data"


def test_certificate_of_another_app_is_rejected(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    from .fake_login import ClientCertificate

    stranger = ClientCertificate.generate()
    settings = replace(
        sharepoint_settings,
        client_secret="",
        certificate_pem=stranger.key_pem,
        certificate_thumbprint=fake_graph.login.certificate.sha1_thumbprint,
    )
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    with pytest.raises(AuthenticationFailed, match=r"\(invalid_client\): AADSTS700027"):
        download(item.sharing_url, settings=settings)


def test_wrong_secret_fails_without_echoing_it(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    settings = replace(sharepoint_settings, client_secret="wrong-secret-123")
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    with pytest.raises(
        AuthenticationFailed, match=r"Signing in to Microsoft Entra ID failed \(invalid_client\)"
    ) as info:
        download(item.sharing_url, settings=settings)

    assert "wrong-secret-123" not in str(info.value)
    assert "Trace ID" not in str(info.value)


def test_unknown_client_id_is_an_authentication_failure(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    settings = replace(sharepoint_settings, client_id="00000000-0000-0000-0000-000000000000")
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    with pytest.raises(AuthenticationFailed, match=r"unauthorized_client.*AADSTS700016"):
        download(item.sharing_url, settings=settings)


def test_unknown_tenant_is_reported_as_misconfigured(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    settings = replace(sharepoint_settings, tenant_id="not-my-tenant")
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    with pytest.raises(AuthenticationFailed, match=r"misconfigured \(check DOCJOBS_SHAREPOINT_TENANT_ID\)"):
        download(item.sharing_url, settings=settings)


def test_missing_credentials_raise_not_configured(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    settings = replace(sharepoint_settings, client_id="", client_secret="")
    item = fake_graph.drive.add_file("book.xlsx", b"data")

    with pytest.raises(NotConfigured, match=r"set DOCJOBS_SHAREPOINT_CLIENT_ID, DOCJOBS_SHAREPOINT_CLIENT_SECRET \(or"):
        download(item.sharing_url, settings=settings)

    assert fake_graph.requests == []


def test_refused_url_never_triggers_a_sign_in(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    with pytest.raises(UrlNotAllowed, match="URL not allowed"):
        download("https://evil.example.com/book.xlsx", settings=sharepoint_settings)

    assert fake_graph.token_requests == 0
