"""Shared fixtures: settings built in code, and a real server with a real worker pool on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import psutil
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from jobs.settings import EndpointSettings, JobSettings, PoolSettings, ServerSettings, Settings
from server import create_app
from tests.waiting import wait_until_async

DEMO_ENDPOINTS = (
    EndpointSettings("/api/v1/demo/echo", "handlers.demo:echo", estimated_seconds=1),
    EndpointSettings("/api/v1/demo/sleep", "handlers.demo:sleep", validator="handlers.demo:validate_sleep"),
    EndpointSettings("/api/v1/demo/cpu", "tests.fault_handlers:burn_cpu"),
    EndpointSettings("/api/v1/demo/fail", "tests.fault_handlers:fail"),
    EndpointSettings("/api/v1/demo/crash", "tests.fault_handlers:crash"),
    EndpointSettings("/api/v1/demo/quick-timeout", "tests.fault_handlers:burn_cpu", timeout_seconds=1),
)

TEST_MAX_RESULT_BYTES = 2 * 1024 * 1024


def make_settings(
    *,
    workers: int = 2,
    server: dict[str, Any] | None = None,
    jobs: dict[str, Any] | None = None,
    endpoints: tuple[EndpointSettings, ...] = DEMO_ENDPOINTS,
    **sections: Any,
) -> Settings:
    """Settings for a test: the demo endpoints, two workers, no uvloop, short lifetimes by default."""
    base = Settings(
        server=ServerSettings(port=0, use_uvloop=False, shutdown_grace_seconds=1),
        pool=PoolSettings(workers=workers),
        # Every job reserves max_result_bytes of its client's share at admission (jobs/budget.py): the
        # tests' small results fit in 2 MiB, so 64 of one client's jobs fit in the derived share.
        jobs=JobSettings(timeout_seconds=30, cleanup_interval_seconds=3600, max_result_bytes=TEST_MAX_RESULT_BYTES),
        endpoints=endpoints,
    )
    return replace(
        base,
        server=replace(base.server, **(server or {})),
        jobs=replace(base.jobs, **(jobs or {})),
        **sections,
    )


ServiceFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def start_service() -> AsyncIterator[ServiceFactory]:
    """Start the real app (HTTP on 127.0.0.1, real worker processes) with `make_settings(**kwargs)`."""
    clients: list[TestClient[Any, Any]] = []

    async def start(**kwargs: Any) -> TestClient[Any, Any]:
        settings = kwargs.pop("settings", None) or make_settings(**kwargs)
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        await client.close()


@pytest.fixture
async def service(start_service: ServiceFactory) -> TestClient[Any, Any]:
    """The service with default test settings."""
    return await start_service()


async def body(response: ClientResponse) -> dict[str, Any]:
    """The JSON body, after checking that it is JSON."""
    assert response.content_type == "application/json", await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def start_job(client: TestClient[Any, Any], endpoint: str, payload: Any = None, **kw: Any) -> str:
    """Start a job and return its id, asserting the 202."""
    response = await client.post("/api/v1/jobs/start", json={"endpoint": endpoint, "payload": payload or {}}, **kw)
    data = await body(response)
    assert response.status == 202, data
    job_id: str = data["jobId"]
    return job_id


async def status_of(client: TestClient[Any, Any], job_id: str) -> dict[str, Any]:
    """The status body of a job (asserting 200)."""
    response = await client.get(f"/api/v1/jobs/{job_id}/status")
    data = await body(response)
    assert response.status == 200, data
    return data


async def wait_for(
    client: TestClient[Any, Any],
    job_id: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 20.0,
    interval: float = 0.02,
) -> dict[str, Any]:
    """Poll the status until `predicate` holds; fail with the last status after `timeout`."""
    last: dict[str, Any] = {}

    async def holds() -> dict[str, Any] | None:
        nonlocal last
        last = await status_of(client, job_id)
        return last if predicate(last) else None

    return await wait_until_async(holds, timeout, lambda: f"job {job_id}; last status: {last}", interval=interval)


async def wait_finished(client: TestClient[Any, Any], job_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll until the job is no longer pending or running."""
    return await wait_for(client, job_id, lambda s: s["status"] not in ("pending", "running"), timeout)


def pid_from_message(message: str) -> int:
    """The demo handlers report 'pid <n> ...' as their first progress message."""
    assert message.startswith("pid "), message
    return int(message.split()[1])


def process_gone(pid: int) -> bool:
    """True once the process no longer exists (or is a zombie awaiting its parent)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def wait_process_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait until the process no longer exists (or is a zombie awaiting its parent)."""
    await wait_until_async(lambda: process_gone(pid), timeout, f"process {pid} to exit", interval=0.05)
