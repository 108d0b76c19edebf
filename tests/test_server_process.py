"""`python server.py` as users run it: flags, environment, config errors, CORS, and SIGTERM."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from tests.process import ServerProcess, free_port, run_server, server_start_failure
from tests.waiting import wait_until_async

TEST_CONFIG = """
[server]
shutdown_grace_seconds = {grace}
use_uvloop = true

[pool]
workers = 2

[cors]
allowed_origins = ["https://app.example.netlify.app"]

[endpoints]
"/api/v1/demo/sleep" = {{ handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep" }}
"/api/v1/demo/echo" = "handlers.demo:echo"
"""


async def wait_running(session: aiohttp.ClientSession, status_url: str, timeout: float = 20) -> None:
    """Poll a job's status until it runs, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session.get(status_url) as response:
            if (await response.json())["status"] == "running":
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the job never started running")


def server_config(grace: float = 5) -> str:
    return TEST_CONFIG.format(grace=grace)


def write_config(tmp_path: Path, grace: float = 5) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(server_config(grace), encoding="utf-8")
    return path


async def get_json(url: str, **kwargs: Any) -> tuple[int, dict[str, Any], Any]:
    async with aiohttp.ClientSession() as session, session.get(url, **kwargs) as response:
        return response.status, await response.json(), response.headers


async def start_sleep_job(server: ServerProcess, payload: dict[str, Any]) -> str:
    """Start a demo sleep job and wait until a worker runs it (its first progress names the worker's pid)."""
    start = {"endpoint": "/api/v1/demo/sleep", "payload": payload}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/api/v1/jobs/start", json=start) as response:
            assert response.status == 202
            job_id: str = (await response.json())["jobId"]

        async def running() -> bool:
            async with session.get(f"{server.url}/api/v1/jobs/{job_id}/status") as response:
                status = await response.json()
            return bool(status["status"] == "running" and status["message"].startswith("pid "))

        await wait_until_async(running, 20, f"job {job_id} to run in a worker")
    return job_id


async def test_port_comes_from_the_port_environment_variable(tmp_path: Path) -> None:
    port = free_port()
    with run_server(
        tmp_path, args=["--config", str(write_config(tmp_path))], env={"PORT": str(port)}, port=port
    ) as server:
        status, data, _ = await get_json(f"{server.url}/api/v1/endpoints")
    assert status == 200
    assert {e["endpoint"] for e in data["endpoints"]} == {"/api/v1/demo/sleep", "/api/v1/demo/echo"}


async def test_docjobs_environment_variables_override_the_file(tmp_path: Path) -> None:
    port = free_port()
    env = {"DOCJOBS_SERVER_PORT": str(port), "DOCJOBS_POOL_WORKERS": "1", "DOCJOBS_JOBS_TIMEOUT_SECONDS": "7"}
    with run_server(tmp_path, args=["--config", str(write_config(tmp_path))], env=env, port=port) as server:
        _, ready, _ = await get_json(f"{server.url}/readyz")
        _, endpoints, _ = await get_json(f"{server.url}/api/v1/endpoints")
    assert ready["workers"] == 1
    assert {e["timeout_seconds"] for e in endpoints["endpoints"]} == {7}


async def test_the_default_config_beside_server_py_serves_the_demo_endpoints(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{server.url}/api/v1/demo/echo", json={"hi": 1}) as response,
        ):
            assert response.status == 200
            assert (await response.json())["data"] == {"hi": 1}


def test_a_bad_config_exits_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[jobs]\nper_client_limit = 0\ntimeout_seconds = -1\n[endpoints]\n"/x" = "no-colon"\n')
    done = server_start_failure(["--config", str(bad)])
    assert done.returncode == 2
    assert "jobs.timeout_seconds must be positive" in done.stderr
    assert "jobs.per_client_limit and jobs.max_pending must be at least 1" in done.stderr
    assert 'must look like "package.module:function"' in done.stderr


def test_an_unimportable_handler_is_reported_at_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[endpoints]\n"/api/v1/x" = "handlers.nope:run"\n')
    done = server_start_failure(["--config", str(bad)])
    assert done.returncode == 2
    assert "cannot import 'handlers.nope'" in done.stderr


async def test_cors_preflight_and_headers_for_an_allowed_origin_only(tmp_path: Path) -> None:
    allowed = "https://app.example.netlify.app"
    with run_server(tmp_path, config=server_config()) as server:
        async with aiohttp.ClientSession() as session:
            preflight_headers = {
                "Origin": allowed,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Content-Type",
            }
            async with session.options(f"{server.url}/api/v1/jobs/start", headers=preflight_headers) as response:
                assert response.status == 200
                assert response.headers["Access-Control-Allow-Origin"] == allowed
                assert "POST" in response.headers["Access-Control-Allow-Methods"]
            async with session.get(f"{server.url}/api/v1/jobs", headers={"Origin": allowed}) as response:
                assert response.headers["Access-Control-Allow-Origin"] == allowed
            async with session.get(f"{server.url}/api/v1/jobs", headers={"Origin": "https://evil.example"}) as resp:
                assert "Access-Control-Allow-Origin" not in resp.headers
            evil_preflight = {**preflight_headers, "Origin": "https://evil.example"}
            async with session.options(f"{server.url}/api/v1/jobs/start", headers=evil_preflight) as response:
                assert response.status == 403
                assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.timing
async def test_sigterm_lets_a_running_job_finish_within_the_grace_then_stops(tmp_path: Path) -> None:
    with run_server(tmp_path, config=server_config(grace=4)) as server:
        children = psutil.Process(server.process.pid).children(recursive=True)
        assert children, "the pool's processes should exist"
        await start_sleep_job(server, {"seconds": 1, "steps": 2})
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        elapsed = time.monotonic() - began
        logs = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    events = [entry["event"] for entry in logs]
    assert "job.completed" in events, "the running job should finish during the grace period"
    assert events.index("service.draining") < events.index("job.completed") < events.index("service.stopped")
    assert elapsed < 10
    # Workers are killed at shutdown; the forkserver and resource tracker exit once our pipes close.
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive


@pytest.mark.timing
async def test_sigterm_stops_a_job_that_outlives_the_grace(tmp_path: Path) -> None:
    with run_server(tmp_path, config=server_config(grace=0.5)) as server:
        await start_sleep_job(server, {"seconds": 60})
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert time.monotonic() - began < 10
        failed = [json.loads(line) for line in server.logs().splitlines() if '"job.failed"' in line]
    assert failed and "shut down before the job finished" in failed[0]["message"]


async def test_a_killed_server_takes_its_pool_processes_with_it(tmp_path: Path) -> None:
    """kill -9 (or the OOM killer) skips every shutdown hook: the pool's processes must still go, or a
    worker runs on with a job that another instance has taken over (seen: a 60 s job ran to its end)."""
    with run_server(tmp_path, config=server_config()) as server:
        await start_sleep_job(server, {"seconds": 60, "steps": 1})
        pool_processes = psutil.Process(server.process.pid).children(recursive=True)
        assert len(pool_processes) >= 5, "forkserver, two workers and their group watchers"
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
    _, alive = psutil.wait_procs(pool_processes, timeout=10)
    survivors = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    for process in survivors:
        process.kill()
    assert not survivors, f"still running after the server died: {[p.pid for p in survivors]}"


async def test_workers_start_without_running_the_server_script_again(tmp_path: Path) -> None:
    """multiprocessing imports the parent's main script into every process it starts; for server.py that
    was aiohttp, redis and the whole API in each worker, 0.7 s of CPU per worker start on a loaded 2-core
    machine and 30 MB of memory each. Workers fork from the forkserver with the handlers preloaded."""
    endpoint = '"/api/v1/test/modules" = "tests.fault_handlers:loaded_modules"\n'  # [endpoints] is last
    with run_server(tmp_path, config=server_config() + endpoint) as server:
        modules = ["jobs.api.serving", "jobs.system", "handlers.demo"]  # server.py imports the first two
        async with aiohttp.ClientSession() as session:
            for _ in range(2):  # both workers, whichever takes each call
                async with session.post(f"{server.url}/api/v1/test/modules", json={"modules": modules}) as response:
                    assert response.status == 200, await response.text()
                    loaded = (await response.json())["data"]
                assert loaded == {"jobs.api.serving": False, "jobs.system": False, "handlers.demo": True}


async def test_large_payloads_and_results_cross_the_worker_pipe_intact_under_uvloop(tmp_path: Path) -> None:
    """Regression: uvloop makes the worker socket non-blocking; messages over 16 KiB arrive in pieces."""
    with run_server(tmp_path, config=server_config()) as srv:
        async with aiohttp.ClientSession() as session:
            for size in (20_000, 300_000, 3_000_000):
                blob = "x" * size
                body = io.BytesIO(json.dumps({"blob": blob}).encode())
                headers = {"Content-Type": "application/json"}
                async with session.post(f"{srv.url}/api/v1/demo/echo", data=body, headers=headers) as response:
                    assert response.status == 200, await response.text()
                    assert (await response.json())["data"]["blob"] == blob
        assert "Traceback" not in srv.logs()
