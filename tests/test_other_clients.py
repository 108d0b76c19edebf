"""A client key sees its own activity only: per-endpoint stats, and /metrics unless it may scrape."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.errors import ConfigError
from jobs.settings import AuthSettings, load_settings
from tests.conftest import ServiceFactory, body, make_settings

Client = TestClient[Any, Any]
ALICE = {"Authorization": "Bearer alice-key-0123456789abcdef"}
BOB = {"Authorization": "Bearer bob-key-0123456789abcdef"}
ROOT = {"Authorization": "Bearer root-key-0123456789abcdef"}
SCRAPER = {"Authorization": "Bearer scrape-key-0123456789abcdef"}
FAIL = "/api/v1/demo/fail"


@pytest.fixture
async def clients(start_service: ServiceFactory) -> Client:
    auth = AuthSettings(
        keys=tuple((h["Authorization"][7:].split("-")[0], h["Authorization"][7:]) for h in (ALICE, BOB, ROOT, SCRAPER)),
        admin=("root",),
        metrics=("scrape",),
    )
    return await start_service(settings=replace(make_settings(workers=1), auth=auth))


async def endpoint_stats(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    stats: dict[str, Any] = (await body(await client.get("/api/v1/jobs/stats", headers=headers)))["stats"]
    endpoints: dict[str, Any] = stats["endpoints"]
    return endpoints


async def test_per_endpoint_failures_and_durations_are_the_callers_own(clients: Client) -> None:
    failed = await clients.post(FAIL, json={}, headers=ALICE)
    assert failed.status == 422, await failed.text()
    echoed = await clients.post("/api/v1/demo/echo", json={}, headers=ALICE)
    assert echoed.status == 200
    # Direct calls are deleted once answered: Alice's own view holds no job, so no figures either.
    for headers in (ALICE, BOB):
        seen = await endpoint_stats(clients, headers)
        assert seen[FAIL] == {"finished": {}, "failure_rate": None, "duration_seconds": None}, headers
        assert seen["/api/v1/demo/echo"]["duration_seconds"] is None
    everyone = await endpoint_stats(clients, ROOT)
    assert everyone[FAIL]["finished"] == {"failed": 1} and everyone[FAIL]["failure_rate"] == 1.0
    assert everyone["/api/v1/demo/echo"]["duration_seconds"]["samples"] == 1


async def test_a_clients_own_held_jobs_give_its_figures(clients: Client) -> None:
    started = await clients.post("/api/v1/jobs/start", json={"endpoint": FAIL, "payload": {}}, headers=ALICE)
    job_id = (await body(started))["jobId"]
    while (await body(await clients.get(f"/api/v1/jobs/{job_id}/status?wait=5", headers=ALICE)))["status"] in (
        "pending",
        "running",
    ):
        pass
    assert (await endpoint_stats(clients, ALICE))[FAIL]["finished"] == {"failed": 1}
    assert (await endpoint_stats(clients, BOB))[FAIL]["finished"] == {}


@pytest.mark.parametrize(("headers", "status"), [(ALICE, 403), (ROOT, 200), (SCRAPER, 200), ({}, 401)])
async def test_metrics_need_an_admin_or_a_listed_scraper(clients: Client, headers: dict[str, str], status: int) -> None:
    response = await clients.get("/metrics", headers=headers)
    assert response.status == status, await response.text()
    if status == 403:
        assert (await body(response))["error"] == "forbidden"


def test_a_metrics_client_needs_a_key() -> None:
    with pytest.raises(ConfigError, match=r"auth\.metrics: 'prometheus' has no key"):
        load_settings(None, {"DOCJOBS_AUTH_METRICS": "prometheus"})
