"""Settings from DOCJOBS_SHAREPOINT_* variables: defaults, parsing, secret files, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.sharepoint import InvalidSetting, NotConfigured, SharePointSettings


def test_defaults_are_the_documented_ones() -> None:
    settings = SharePointSettings.from_env({})

    assert settings.graph_base_url == "https://graph.microsoft.com"
    assert settings.authority_host == "https://login.microsoftonline.com"
    assert settings.allowed_hosts == ("*.sharepoint.com", "graph.microsoft.com")
    assert settings.allow_private_addresses is False
    assert settings.max_download_bytes == 100 * 1024 * 1024
    assert settings.upload_session_threshold_bytes == 4 * 1024 * 1024
    assert settings.upload_chunk_bytes % (320 * 1024) == 0


def test_every_variable_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings = SharePointSettings.from_env(
        {
            "DOCJOBS_SHAREPOINT_TENANT_ID": "tenant",
            "DOCJOBS_SHAREPOINT_CLIENT_ID": "client",
            "DOCJOBS_SHAREPOINT_CLIENT_SECRET_FILE": str(secret),
            "DOCJOBS_SHAREPOINT_GRAPH_BASE_URL": "https://graph.example.test/",
            "DOCJOBS_SHAREPOINT_AUTHORITY_HOST": "https://login.example.test",
            "DOCJOBS_SHAREPOINT_ALLOWED_HOSTS": " *.SharePoint.com , files.example.test ",
            "DOCJOBS_SHAREPOINT_ALLOW_PRIVATE_ADDRESSES": "yes",
            "DOCJOBS_SHAREPOINT_CA_BUNDLE": "/etc/ca.pem",
            "DOCJOBS_SHAREPOINT_MAX_DOWNLOAD_BYTES": "1000",
            "DOCJOBS_SHAREPOINT_UPLOAD_SESSION_THRESHOLD_BYTES": "2000",
            "DOCJOBS_SHAREPOINT_UPLOAD_CHUNK_BYTES": "655360",
            "DOCJOBS_SHAREPOINT_CONNECT_TIMEOUT_SECONDS": "2.5",
            "DOCJOBS_SHAREPOINT_READ_TIMEOUT_SECONDS": "30",
            "DOCJOBS_SHAREPOINT_RETRY_ATTEMPTS": "7",
            "DOCJOBS_SHAREPOINT_RETRY_MAX_SECONDS": "60",
        }
    )

    assert (settings.tenant_id, settings.client_id, settings.client_secret) == ("tenant", "client", "s3cret")
    assert settings.graph_base_url == "https://graph.example.test"
    assert settings.graph_host == "graph.example.test"
    assert settings.allowed_hosts == ("*.sharepoint.com", "files.example.test")
    assert settings.allow_private_addresses is True
    assert settings.ca_bundle == "/etc/ca.pem"
    assert (settings.max_download_bytes, settings.upload_session_threshold_bytes) == (1000, 2000)
    assert (settings.upload_chunk_bytes, settings.connect_timeout_seconds) == (655360, 2.5)
    assert (settings.read_timeout_seconds, settings.retry_attempts, settings.retry_max_seconds) == (30, 7, 60)
    settings.require_credentials()


def test_certificate_file_is_read(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")

    settings = SharePointSettings.from_env(
        {"DOCJOBS_SHAREPOINT_CERTIFICATE_FILE": str(key), "DOCJOBS_SHAREPOINT_CERTIFICATE_THUMBPRINT": "AB:CD:EF"}
    )

    assert settings.certificate_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert settings.certificate_thumbprint == "ABCDEF"
    assert "abc" not in repr(settings)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"RETRY_ATTEMPTS": "many"}, r"DOCJOBS_SHAREPOINT_RETRY_ATTEMPTS: 'many' is not a valid integer"),
        ({"READ_TIMEOUT_SECONDS": "soon"}, r"READ_TIMEOUT_SECONDS: 'soon' is not a valid number"),
        ({"ALLOW_PRIVATE_ADDRESSES": "maybe"}, r"'maybe' is not a valid true/false value"),
        ({"MAX_DOWNLOAD_BYTES": "0"}, r"MAX_DOWNLOAD_BYTES must be a positive number of bytes"),
        ({"RETRY_ATTEMPTS": "0"}, r"RETRY_ATTEMPTS must be at least 1"),
        ({"UPLOAD_CHUNK_BYTES": "100000"}, r"UPLOAD_CHUNK_BYTES must be a multiple of 320 KiB"),
        ({"GRAPH_BASE_URL": "http://graph.microsoft.com"}, r"GRAPH_BASE_URL must be an https origin"),
        ({"AUTHORITY_HOST": "https://login.example/tenant"}, r"AUTHORITY_HOST must be an https origin"),
        ({"ALLOWED_HOSTS": "*.sharepoint.com,https://x.com"}, r"'https://x.com' is not a host name"),
        ({"ALLOWED_HOSTS": "*"}, r"'\*' is not a host name"),
        ({"CLIENT_SECRET_FILE": "/nonexistent/secret"}, r"CLIENT_SECRET_FILE: cannot read '/nonexistent/secret'"),
        ({"CERTIFICATE_FILE": "/nonexistent/key.pem"}, r"CERTIFICATE_FILE: cannot read"),
    ],
)
def test_bad_values_are_refused_with_the_variable_name(variables: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidSetting, match=message):
        SharePointSettings.from_env({f"DOCJOBS_SHAREPOINT_{k}": v for k, v in variables.items()})


def test_secret_inline_and_as_file_is_ambiguous(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a")

    with pytest.raises(InvalidSetting, match="Set only one of DOCJOBS_SHAREPOINT_CLIENT_SECRET and"):
        SharePointSettings.from_env(
            {"DOCJOBS_SHAREPOINT_CLIENT_SECRET": "b", "DOCJOBS_SHAREPOINT_CLIENT_SECRET_FILE": str(secret)}
        )


def test_certificate_key_without_thumbprint_or_certificate_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")

    with pytest.raises(InvalidSetting, match="CERTIFICATE_THUMBPRINT is required"):
        SharePointSettings.from_env({"DOCJOBS_SHAREPOINT_CERTIFICATE_FILE": str(key)})


def test_unconfigured_settings_name_every_missing_variable() -> None:
    with pytest.raises(NotConfigured) as info:
        SharePointSettings.from_env({}).require_credentials()

    assert str(info.value) == (
        "SharePoint is not configured on this server: set DOCJOBS_SHAREPOINT_TENANT_ID, "
        "DOCJOBS_SHAREPOINT_CLIENT_ID, DOCJOBS_SHAREPOINT_CLIENT_SECRET (or "
        "DOCJOBS_SHAREPOINT_CLIENT_SECRET_FILE, or DOCJOBS_SHAREPOINT_CERTIFICATE_FILE)."
    )


def test_secret_never_appears_in_repr() -> None:
    settings = SharePointSettings(tenant_id="t", client_id="c", client_secret="hunter2")

    assert "hunter2" not in repr(settings)
