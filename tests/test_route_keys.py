"""With keys configured, every route needs one, whatever its path and case; only the probes stay open."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.settings import AuthSettings, EndpointSettings
from tests.conftest import DEMO_ENDPOINTS, ServiceFactory, body, make_settings

Client = TestClient[Any, Any]
KEY = "route-key-0123456789abcdef"
WITH_KEY = {"Authorization": f"Bearer {KEY}"}
ODD_PATHS = (
    EndpointSettings("/tools/echo", "handlers.demo:echo"),
    EndpointSettings("/API/v2/echo", "handlers.demo:echo"),
)


@pytest.fixture
async def keyed(start_service: ServiceFactory) -> Client:
    settings = make_settings(workers=1, endpoints=(*DEMO_ENDPOINTS, *ODD_PATHS))
    return await start_service(settings=replace(settings, auth=AuthSettings(keys=(("ops", KEY),))))


@pytest.mark.parametrize("path", ["/tools/echo", "/API/v2/echo"])
async def test_an_endpoint_outside_api_needs_a_key(keyed: Client, path: str) -> None:
    refused = await keyed.post(path, json={"x": 1})
    assert refused.status == 401, await refused.text()
    assert (await body(refused))["error"] == "unauthorized"
    allowed = await keyed.post(path, json={"x": 1}, headers=WITH_KEY)
    assert allowed.status == 200, await allowed.text()
    assert (await allowed.json())["data"] == {"x": 1}


@pytest.mark.parametrize(
    "path", ["/API/v1/demo/echo", "/Api/V1/jobs", "/HEALTHZ", "/healthz/", "/no/such/route", "/metrics"]
)
async def test_a_path_that_matches_no_open_route_needs_a_key(keyed: Client, path: str) -> None:
    response = await keyed.post(path, json={})
    assert response.status == 401, (path, await response.text())


async def test_percent_encoding_does_not_open_a_route(keyed: Client) -> None:
    response = await keyed.post("/tools/%65cho", json={"x": 1})
    assert response.status == 401


async def test_the_probes_and_the_dashboard_page_stay_open(keyed: Client) -> None:
    for path in ("/healthz", "/readyz", "/dashboard"):
        response = await keyed.get(path)
        assert response.status == 200, path


async def test_a_wrong_method_on_an_open_route_is_a_405_and_on_a_protected_one_a_401(keyed: Client) -> None:
    assert (await keyed.post("/healthz")).status == 405
    assert (await keyed.get("/api/v1/jobs/start")).status == 401
    assert (await keyed.get("/api/v1/jobs/start", headers=WITH_KEY)).status == 405
