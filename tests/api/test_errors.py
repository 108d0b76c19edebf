"""Every error answer is JSON with success=false, an error code, a message, and the right status."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import ServiceFactory, body

Client = TestClient[Any, Any]
START = "/api/v1/jobs/start"
UNKNOWN_ID = "job_1690123456789_0123456789abcdef0123456789abcdef"


async def assert_error(response: Any, status: int, code: str, *, contains: str = "") -> dict[str, Any]:
    data = await body(response)
    assert response.status == status, data
    assert data["success"] is False
    assert data["error"] == code
    assert isinstance(data["message"], str) and data["message"]
    assert contains in data["message"]
    assert "Traceback" not in await response.text()
    return data


async def test_malformed_json(service: Client) -> None:
    response = await service.post(START, data=b'{"endpoint": ', headers={"Content-Type": "application/json"})
    await assert_error(response, 400, "invalid_json", contains="not valid JSON")


async def test_body_that_is_not_utf8(service: Client) -> None:
    response = await service.post(START, data=b'{"endpoint": "\xff\xfe"}', headers={"Content-Type": "application/json"})
    await assert_error(response, 400, "invalid_json", contains="UTF-8")


async def test_empty_body(service: Client) -> None:
    response = await service.post(START, data=b"", headers={"Content-Type": "application/json"})
    await assert_error(response, 400, "invalid_json", contains="empty")


async def test_body_that_is_not_an_object(service: Client) -> None:
    await assert_error(await service.post(START, json=[1, 2]), 400, "invalid_json", contains="object")


async def test_deeply_nested_json(service: Client) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    response = await service.post(START, data=nested, headers={"Content-Type": "application/json"})
    await assert_error(response, 400, "invalid_json", contains="nested too deeply")


async def test_wrong_content_type(service: Client) -> None:
    response = await service.post(
        START, data=b"endpoint=/api/v1/demo/echo", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    await assert_error(response, 415, "unsupported_media_type", contains="application/json")


async def test_missing_endpoint(service: Client) -> None:
    await assert_error(
        await service.post(START, json={"payload": {}}), 400, "endpoint_not_allowed", contains="'endpoint' is required"
    )


async def test_endpoint_not_on_the_whitelist(service: Client) -> None:
    data = await assert_error(
        await service.post(START, json={"endpoint": "/api/v1/secret", "payload": {}}),
        400,
        "endpoint_not_allowed",
        contains="/api/v1/demo/echo",
    )
    assert "/api/v1/secret" in data["message"]


async def test_payload_that_is_not_an_object(service: Client) -> None:
    response = await service.post(START, json={"endpoint": "/api/v1/demo/echo", "payload": "text"})
    await assert_error(response, 400, "invalid_payload", contains="JSON object")


async def test_validator_rejects_a_bad_payload_before_a_job_exists(service: Client) -> None:
    response = await service.post(START, json={"endpoint": "/api/v1/demo/sleep", "payload": {"seconds": -1}})
    await assert_error(response, 400, "invalid_payload", contains="seconds")
    assert (await body(await service.get("/api/v1/jobs")))["total_jobs"] == 0


async def test_body_over_the_size_limit(start_service: ServiceFactory) -> None:
    client = await start_service(server={"max_body_bytes": 2048})
    big = {"endpoint": "/api/v1/demo/echo", "payload": {"blob": "x" * 4096}}
    await assert_error(await client.post(START, json=big), 413, "payload_too_large")


async def test_body_over_the_size_limit_without_content_length(start_service: ServiceFactory) -> None:
    client = await start_service(server={"max_body_bytes": 2048})

    async def chunks() -> Any:
        for _ in range(8):
            yield b" " * 1024

    response = await client.post(START, data=chunks(), headers={"Content-Type": "application/json"})
    await assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("route", ["status", "result"])
async def test_unknown_job_id(service: Client, route: str) -> None:
    await assert_error(await service.get(f"/api/v1/jobs/{UNKNOWN_ID}/{route}"), 404, "job_not_found")


async def test_unknown_job_id_on_delete(service: Client) -> None:
    await assert_error(await service.delete(f"/api/v1/jobs/{UNKNOWN_ID}"), 404, "job_not_found")


@pytest.mark.parametrize(
    "job_id",
    [
        "job_123_abc",
        "JOB_1690123456789_0123456789ABCDEF0123456789ABCDEF",
        "job_1690123456789_0123456789abcdef0123456789abcdef0",
        "%27%20OR%201%3D1--",
        "job_1690123456789_%24%28rm%20-rf%29",
        "%E2%80%AEjob",
        "x" * 5000,
    ],
)
async def test_malformed_job_ids_are_rejected_before_lookup(service: Client, job_id: str) -> None:
    await assert_error(await service.get(f"/api/v1/jobs/{job_id}/status"), 400, "invalid_job_id")


async def test_path_traversal_in_a_job_id_finds_no_route(service: Client) -> None:
    response = await service.get("/api/v1/jobs/..%2F..%2Fetc%2Fpasswd/status")
    assert response.status in (400, 404)
    assert (await body(response))["success"] is False


async def test_method_not_allowed(service: Client) -> None:
    data = await assert_error(await service.put(START, json={}), 405, "method_not_allowed")
    assert "PUT" in data["message"]


async def test_unknown_route(service: Client) -> None:
    await assert_error(await service.get("/api/v1/nothing-here"), 404, "not_found")


async def test_direct_call_returns_the_handlers_result(service: Client) -> None:
    response = await service.post("/api/v1/demo/echo", json={"a": 1})
    assert response.status == 200
    assert await response.json() == {"success": True, "message": "Echoed the payload", "data": {"a": 1}}
    assert (await body(await service.get("/api/v1/jobs")))["total_jobs"] == 0, "a direct call leaves no job"


async def test_direct_call_runs_the_validator(service: Client) -> None:
    await assert_error(
        await service.post("/api/v1/demo/sleep", json={"steps": 0}), 400, "invalid_payload", contains="steps"
    )


async def test_direct_call_of_a_failing_handler(service: Client) -> None:
    response = await service.post("/api/v1/demo/fail", json={"message": "Sheet 'X' not found"})
    await assert_error(response, 422, "job_failed", contains="Sheet 'X' not found")


async def test_direct_call_whose_worker_dies(service: Client) -> None:
    await assert_error(await service.post("/api/v1/demo/crash", json={}), 502, "worker_crashed", contains="code 70")


async def test_direct_call_that_times_out(service: Client) -> None:
    response = await service.post("/api/v1/demo/quick-timeout", json={"milliseconds": 30_000})
    await assert_error(response, 410, "job_expired", contains="time limit")


async def test_request_id_is_echoed_when_safe_and_replaced_when_not(service: Client) -> None:
    ok = await service.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert ok.headers["X-Request-ID"] == "abc-123"
    hostile = await service.get("/healthz", headers={"X-Request-ID": "a b<script>"})
    assert hostile.headers["X-Request-ID"] != "a b<script>"
    assert len(hostile.headers["X-Request-ID"]) == 32
    error = await service.get("/api/v1/nothing", headers={"X-Request-ID": "trace-9"})
    assert error.headers["X-Request-ID"] == "trace-9"


async def test_a_payload_nested_too_deep_for_a_worker_is_refused_and_blocks_nobody(service: Client) -> None:
    deep: Any = "bottom"
    for _ in range(600):
        deep = [deep]
    response = await service.post(START, json={"endpoint": "/api/v1/demo/echo", "payload": {"deep": deep}})
    await assert_error(response, 400, "invalid_payload", contains="nested")
    direct = await service.post("/api/v1/demo/echo", json={"deep": deep})
    await assert_error(direct, 400, "invalid_payload", contains="at most 64")
    follow_up = await service.post("/api/v1/demo/echo", json={"fine": [[1]]})
    assert follow_up.status == 200
