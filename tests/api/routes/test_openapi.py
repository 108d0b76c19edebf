"""The contract: openapi.yaml describes every route, and the live service keeps to it under schemathesis."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient

from jobs import errors
from jobs.api.errors import CODE_BY_HTTP_STATUS, STATUS_BY_ERROR
from jobs.api.keys import OPENAPI
from jobs.api.routes.openapi import OPENAPI_PATH, load_openapi, setup_openapi
from jobs.errors import ConfigError
from jobs.settings import AuthSettings, load_settings
from server import create_app
from tests.conftest import ServiceFactory, body, make_settings
from tests.process import ROOT, run_server

Client = TestClient[Any, Any]
SPEC_FILE = ROOT / "openapi.yaml"
KEY = "alice-key-0123456789abcdef"
ADMIN_KEY = "root-key-0123456789abcdef"
# Seed and budget: the same cases every run, about 30 s on two cores.
SEED = 20261129
MAX_EXAMPLES = 20

# The shipped endpoints (config.toml) with the sleep demo's time limit cut to 1 s, so that a generated
# `seconds: 3600` costs one second, not an hour; keys on, so the bearer scheme is exercised.
SERVER_CONFIG = f"""
[server]
use_uvloop = false
shutdown_grace_seconds = 1
[pool]
workers = 2
[jobs]
max_result_bytes = 1048576        # small results: each job reserves this of its client's share at admission
[auth]
keys = {{ alice = "{KEY}", root = "{ADMIN_KEY}" }}
admin = ["root"]
[endpoints]
"/api/v1/extract" = {{ handler = "handlers.extract:extract", validator = "handlers.extract:validate" }}
"/api/v1/merge" = {{ handler = "handlers.merge:merge", validator = "handlers.merge:validate" }}
"/api/v1/update" = {{ handler = "handlers.update:update", validator = "handlers.update:validate" }}
"/api/v1/demo/echo" = {{ handler = "handlers.demo:echo", estimated_seconds = 1 }}
"/api/v1/demo/sleep" = {{ handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep", \
timeout_seconds = 1 }}
"""

# Every check is on (schemathesis enables all of them by default); the exceptions are per operation:
# - extract, merge and update document their payload as a generic object: their validators are stricter
#   than that by design, and a valid-looking payload may fail its job (no SharePoint here), so a
#   schema-valid body may be refused with 400 or fail with 410/422/502. The same holds for a job
#   started for them, and for the result of such a job.
SCHEMATHESIS_CONFIG = f"""
seed = {SEED}
workers = 1
request-timeout = 40
[generation]
max-examples = {MAX_EXAMPLES}
database = "none"
[auth.openapi.bearer]
bearer = "{KEY}"
[[operations]]
include-tag = "direct"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "410", "422", "429", "502"]
[[operations]]
include-operation-id = "startJob"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "429"]
[[operations]]
include-operation-id = "getJobResult"
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "409", "410", "422", "429"]
"""

PHASES = ("examples", "coverage", "fuzzing", "stateful")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    return document


def run_schemathesis(url: str, workdir: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """The schemathesis command line against `url`; its output and its ndjson event log."""
    config = workdir / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    events = workdir / "events.ndjson"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        str(SPEC_FILE),
        "--url",
        url,
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(events),
    ]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=workdir, env=env)
    return done, [json.loads(line) for line in events.read_text().splitlines() if line.strip()]


@pytest.mark.timeout(300)  # schemathesis generates and sends thousands of requests (its own limit is 240 s)
def test_the_live_service_keeps_to_its_contract(tmp_path: Path) -> None:
    with run_server(tmp_path, config=SERVER_CONFIG) as server:
        done, events = run_schemathesis(server.url, tmp_path)
        logs = server.logs()
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    finished = {
        event["PhaseFinished"]["phase"]["name"]: event["PhaseFinished"] for event in events if "PhaseFinished" in event
    }
    for phase in PHASES:
        assert finished[phase]["phase"]["is_enabled"], (phase, report)
        assert finished[phase]["status"] == "success", (phase, report)
    links = applied_links(events)
    for link in ("GetJobStatus", "GetJobResult", "DeleteJob"):
        assert any(name == link for name, _ in links), (link, links)
    assert ("DeleteJob", 200) in links, links  # start -> ... -> delete went through at least once
    assert not service_errors(logs), "the service logged an error (a 500's traceback?)"


async def test_the_document_is_served_as_json(tmp_path: Path, spec: dict[str, Any]) -> None:
    with run_server(tmp_path, config=SERVER_CONFIG) as server:
        async with ClientSession() as session:
            anonymous = await session.get(f"{server.url}{OPENAPI_PATH}")
            assert anonymous.status == 401
            served = await session.get(f"{server.url}{OPENAPI_PATH}", headers={"Authorization": f"Bearer {KEY}"})
            assert served.status == 200
            assert served.headers["X-Request-ID"]
            assert await body(served) == spec


def service_errors(logs: str) -> list[dict[str, Any]]:
    """Error records of the service's own loggers (aiohttp's refusals of malformed HTTP are not ours)."""
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    return [r for r in records if r.get("level") == "error" and r.get("logger", "").startswith("docjobs")]


def applied_links(events: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """(link name, status answered) for every OpenAPI link the stateful phase followed."""
    followed = set()
    for event in events:
        scenario = event.get("ScenarioFinished")
        if not scenario or scenario["phase"] != "stateful":
            continue
        interactions = scenario["recorder"]["interactions"]
        for case_id, case in scenario["recorder"]["cases"].items():
            transition = case.get("transition")
            response = interactions.get(case_id, {}).get("response")
            if transition and case["is_transition_applied"] and response:
                name = transition["id"].split(" -> ")[1].split("] ", 1)[1]
                followed.add((name, response["status_code"]))
    return followed


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_route_of_the_app_is_in_the_contract(spec: dict[str, Any]) -> None:
    app = create_app(load_settings(ROOT / "config.toml", {}))
    served = {
        (route.method.lower(), _template(route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None and route.method not in ("HEAD", "OPTIONS", "*")
    }
    documented = {
        (method, _template(path))
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert served == documented


def test_every_error_code_and_status_is_in_the_contract(spec: dict[str, Any]) -> None:
    documented_codes = set(spec["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    codes = {cls.code for cls in STATUS_BY_ERROR} | set(CODE_BY_HTTP_STATUS.values())
    codes |= {errors.WatchLimitReached.code, "not_ready", "timeout", "http_error"}
    assert codes <= documented_codes
    documented_statuses = {
        int(status)
        for operations in spec["paths"].values()
        for operation in operations.values()
        for status in operation["responses"]
    }
    assert set(STATUS_BY_ERROR.values()) <= documented_statuses


def test_every_operation_declares_auth_errors_and_request_ids(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            open_route = operation.get("security") == []
            assert open_route or "401" in operation["responses"], (method, path)
            assert "500" in operation["responses"], (method, path)
            names = {parameter.get("$ref", "").rsplit("/", 1)[-1] for parameter in operation.get("parameters", [])}
            assert "RequestId" in names, (method, path)
    open_paths = {path for path, ops in spec["paths"].items() for op in ops.values() if op.get("security") == []}
    assert open_paths == {"/healthz", "/readyz", "/dashboard"}  # the page is static; its data needs a key


def test_a_missing_document_skips_the_route(tmp_path: Path) -> None:
    bare = web.Application()
    setup_openapi(bare, tmp_path / "absent.yaml")
    assert OPENAPI not in bare
    assert not list(bare.router.routes())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("openapi: [unclosed", "not valid YAML"),
        ("- a list", "not an OpenAPI document"),
        ("openapi: 3.1.0\ninfo:\n  x-released: 2024-07-24\n", "quote it"),
    ],
)
def test_a_broken_document_is_a_configuration_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_openapi(path)


async def _secured_client(start_service: ServiceFactory) -> Client:
    settings = replace(make_settings(), auth=AuthSettings(keys=(("alice", KEY),)))
    client: Client = await start_service(settings=settings)
    return client


@pytest.mark.parametrize("path", ["/api/v1/jobs/start", "/api/v1/jobs/stats"])
async def test_delete_on_start_and_stats_is_method_not_allowed(start_service: ServiceFactory, path: str) -> None:
    client = await _secured_client(start_service)
    response = await client.delete(path, headers={"Authorization": f"Bearer {KEY}"})
    data = await body(response)
    assert response.status == 405, data
    assert "DELETE" not in response.headers["Allow"]


async def test_the_event_stream_carries_the_request_id(start_service: ServiceFactory) -> None:
    client = await _secured_client(start_service)
    headers = {"Authorization": f"Bearer {KEY}"}
    started = await client.post(
        "/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}}, headers=headers
    )
    job_id = (await body(started))["jobId"]
    events = await client.get(f"/api/v1/jobs/{job_id}/events", headers={**headers, "X-Request-ID": "trace-sse-1"})
    assert events.status == 200
    await events.read()
    assert events.headers.get("X-Request-ID") == "trace-sse-1"
