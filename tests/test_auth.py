"""API keys, job ownership, admin keys, and secure defaults."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.auth import hash_key
from jobs.errors import ConfigError
from jobs.settings import AuthSettings, load_settings
from tests.conftest import ServiceFactory, body, make_settings, start_job, wait_finished
from tests.process import free_port, run_server, server_start_failure

Client = TestClient[Any, Any]
ALICE_KEY = "alice-key-0123456789abcdef"
BOB_KEY = "bob-key-0123456789abcdef"
ROOT_KEY = "root-key-0123456789abcdef"
ALICE = {"Authorization": f"Bearer {ALICE_KEY}"}
BOB = {"Authorization": f"Bearer {BOB_KEY}"}
ADMIN = {"Authorization": f"Bearer {ROOT_KEY}"}


@pytest.fixture
async def secured(start_service: ServiceFactory) -> Client:
    auth = AuthSettings(keys=(("alice", ALICE_KEY), ("bob", hash_key(BOB_KEY)), ("root", ROOT_KEY)), admin=("root",))
    settings = make_settings(jobs={"per_client_limit": 2})
    return await start_service(settings=replace(settings, auth=auth))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer  {ALICE_KEY}"},
        {"Authorization": f"Bearer {ALICE_KEY[:5]} {ALICE_KEY[5:]}"},
        {"Authorization": f"bearer {ALICE_KEY}"},
        {"Authorization": f"Basic {ALICE_KEY}"},
    ],
    ids=["none", "wrong", "empty", "leading-space", "inner-space", "lowercase-scheme", "basic"],
)
async def test_every_api_route_needs_a_valid_key(secured: Client, headers: dict[str, str]) -> None:
    for method, path in [
        ("POST", "/api/v1/jobs/start"),
        ("GET", "/api/v1/jobs"),
        ("GET", "/api/v1/jobs/stats"),
        ("GET", "/api/v1/endpoints"),
        ("POST", "/api/v1/demo/echo"),
    ]:
        response = await secured.request(method, path, json={"endpoint": "/api/v1/demo/echo"}, headers=headers)
        data = await body(response)
        assert response.status == 401, (method, path)
        assert data["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_probes_and_the_static_dashboard_page_stay_open_without_a_key(secured: Client) -> None:
    assert (await secured.get("/healthz")).status == 200
    assert (await secured.get("/readyz")).status == 200
    page = await secured.get("/dashboard")
    assert page.status == 200 and page.content_type == "text/html"
    assert (await secured.get("/metrics")).status == 401, "metrics are protected by default"


async def test_a_key_given_as_its_sha256_digest_works(secured: Client) -> None:
    job_id = await start_job(secured, "/api/v1/demo/echo", {}, headers=BOB)
    assert (await wait_finished_as(secured, job_id, BOB))["status"] == "completed"


async def wait_finished_as(client: Client, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"/api/v1/jobs/{job_id}/status?wait=10", headers=headers)
    status = await body(response)
    while status["status"] in ("pending", "running"):
        status = await body(await client.get(f"/api/v1/jobs/{job_id}/status?wait=10", headers=headers))
    return status


async def test_another_clients_job_is_not_found(secured: Client) -> None:
    job_id = await start_job(secured, "/api/v1/demo/echo", {"secret": 1}, headers=ALICE)
    await wait_finished_as(secured, job_id, ALICE)
    for method, path in [
        ("GET", f"/api/v1/jobs/{job_id}/status"),
        ("GET", f"/api/v1/jobs/{job_id}/result"),
        ("GET", f"/api/v1/jobs/{job_id}/events"),
        ("DELETE", f"/api/v1/jobs/{job_id}"),
    ]:
        response = await secured.request(method, path, headers=BOB)
        assert response.status == 404, (method, path)
        assert (await response.json())["error"] == "job_not_found"
    listed = await body(await secured.get("/api/v1/jobs", headers=BOB))
    assert listed["total_jobs"] == 0
    bobs_stats = (await body(await secured.get("/api/v1/jobs/stats", headers=BOB)))["stats"]
    assert bobs_stats["total_jobs"] == 0 and bobs_stats["by_endpoint"] == {}
    alices = await body(await secured.get(f"/api/v1/jobs/{job_id}/result", headers=ALICE))
    assert alices["data"]["data"] == {"secret": 1}


async def test_an_admin_key_sees_and_deletes_every_clients_jobs(secured: Client) -> None:
    alices = await start_job(secured, "/api/v1/demo/sleep", {"seconds": 5}, headers=ALICE)
    bobs = await start_job(secured, "/api/v1/demo/echo", {}, headers=BOB)
    listed = await body(await secured.get("/api/v1/jobs", headers=ADMIN))
    assert {j["id"] for j in listed["jobs"]} == {alices, bobs}
    stats = (await body(await secured.get("/api/v1/jobs/stats", headers=ADMIN)))["stats"]
    assert stats["total_jobs"] == 2
    assert (await secured.delete(f"/api/v1/jobs/{alices}", headers=ADMIN)).status == 200


async def test_the_per_client_limit_counts_per_key(secured: Client) -> None:
    for _ in range(2):
        await start_job(secured, "/api/v1/demo/sleep", {"seconds": 5}, headers=ALICE)
    over = await secured.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo"}, headers=ALICE)
    assert over.status == 429
    await start_job(secured, "/api/v1/demo/echo", {}, headers=BOB)  # same address, other key: own limit


async def test_idempotency_keys_are_per_client(secured: Client) -> None:
    start = {"endpoint": "/api/v1/demo/echo", "payload": {}}
    a = await body(await secured.post("/api/v1/jobs/start", json=start, headers={**ALICE, "Idempotency-Key": "k"}))
    b = await body(await secured.post("/api/v1/jobs/start", json=start, headers={**BOB, "Idempotency-Key": "k"}))
    assert a["jobId"] != b["jobId"]


def test_listening_beyond_loopback_without_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="no API keys are configured"):
        load_settings(None, {"DOCJOBS_SERVER_HOST": "0.0.0.0"})
    assert load_settings(None, {"DOCJOBS_SERVER_HOST": "0.0.0.0", "DOCJOBS_AUTH_DISABLED": "true"}).auth.disabled
    keyed = load_settings(
        None, {"DOCJOBS_SERVER_HOST": "0.0.0.0", "DOCJOBS_AUTH_KEYS": json.dumps({"netlify": ALICE_KEY})}
    )
    assert keyed.auth.keys == (("netlify", ALICE_KEY),)


def test_bad_keys_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(
            None,
            {
                "DOCJOBS_AUTH_KEYS": json.dumps({"a": "short", "b b": ALICE_KEY, "c": "sha256:xyz"}),
                "DOCJOBS_AUTH_ADMIN": "nobody",
            },
        )
    text = str(error.value)
    assert "at least 16 visible ASCII characters" in text
    assert "client name 'b b'" in text
    assert "64 lowercase hex digits" in text
    assert "'nobody' has no key" in text


def test_keys_can_come_from_a_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "keys.toml"
    secrets.write_text(f'[keys]\nnetlify = "{ALICE_KEY}"\n')
    settings = load_settings(None, {"DOCJOBS_AUTH_KEYS_FILE": str(secrets), "DOCJOBS_AUTH_ADMIN": "netlify"})
    assert settings.auth.keys == (("netlify", ALICE_KEY),)


def test_the_server_refuses_to_start_open_on_all_interfaces(tmp_path: Path) -> None:
    done = server_start_failure(["--host", "0.0.0.0", "--port", "0"])
    assert done.returncode == 2
    assert "no API keys are configured" in done.stderr


async def test_auth_disabled_on_all_interfaces_starts_with_a_warning(tmp_path: Path) -> None:
    port = free_port()
    with run_server(
        tmp_path, args=["--host", "0.0.0.0", "--port", str(port)], port=port, env={"DOCJOBS_AUTH_DISABLED": "true"}
    ) as server:
        logs = server.logs()
    assert "service.auth_disabled" in logs


async def test_status_of_a_job_owned_by_the_caller(secured: Client) -> None:
    job_id = await start_job(secured, "/api/v1/demo/echo", {}, headers=ALICE)
    assert (await secured.get(f"/api/v1/jobs/{job_id}/status", headers=ALICE)).status == 200
    assert (await wait_finished_as(secured, job_id, ALICE))["status"] == "completed"


_ = wait_finished  # the unauthenticated helper is not usable here
