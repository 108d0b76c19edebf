"""A worker's handler and everything it forks go together: on cancel, timeout and the server's death,
even while the handler holds the GIL."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp.test_utils import TestClient

from jobs.pool.group import TREE_SCAN_SECONDS
from jobs.settings import EndpointSettings
from tests.conftest import DEMO_ENDPOINTS, ServiceFactory, start_job, wait_finished, wait_for, wait_process_gone
from tests.process import ROOT, run_server

Client = TestClient[Any, Any]

FAULT_ENDPOINTS = (
    *DEMO_ENDPOINTS,
    EndpointSettings("/fork", "tests.pool.fault_handlers:fork_sleeper"),
    EndpointSettings("/fork-briefly", "tests.pool.fault_handlers:fork_sleeper", timeout_seconds=1),
    EndpointSettings("/setsid", "tests.fault_handlers:setsid_sleeper"),
    EndpointSettings("/setsid-briefly", "tests.fault_handlers:setsid_sleeper", timeout_seconds=1),
)

SERVER_CONFIG = """
[pool]
workers = 1

[endpoints]
"/fork" = "tests.pool.fault_handlers:fork_sleeper"
"/hold-gil" = "tests.pool.fault_handlers:hold_gil"
"/setsid" = "tests.fault_handlers:setsid_sleeper"
"""


async def forked_pids(client: Client, job_id: str) -> tuple[int, int]:
    """The worker's pid and its handler's child's pid, as the handler reports them."""
    status = await wait_for(client, job_id, lambda s: " child " in s["message"])
    words = status["message"].split()
    return int(words[1]), int(words[3])


async def test_cancelling_a_job_kills_the_processes_its_handler_forked(start_service: ServiceFactory) -> None:
    client = await start_service(endpoints=FAULT_ENDPOINTS, workers=1)
    job_id = await start_job(client, "/fork", {"seconds": 60})
    worker, child = await forked_pids(client, job_id)
    assert (await client.delete(f"/api/v1/jobs/{job_id}")).status == 200
    await wait_process_gone(worker)
    await wait_process_gone(child)


async def test_a_timeout_kills_the_processes_its_handler_forked(start_service: ServiceFactory) -> None:
    client = await start_service(endpoints=FAULT_ENDPOINTS, workers=1)
    job_id = await start_job(client, "/fork-briefly", {"seconds": 60})
    worker, child = await forked_pids(client, job_id)
    assert (await wait_finished(client, job_id))["status"] == "expired"
    await wait_process_gone(worker)
    await wait_process_gone(child)


async def _running_message(session: aiohttp.ClientSession, url: str, endpoint: str, **payload: Any) -> str:
    """Start a job on the server at `url` and wait (with a deadline) for its first progress message."""
    start = {"endpoint": endpoint, "payload": {"seconds": 60, **payload}}
    async with session.post(f"{url}/api/v1/jobs/start", json=start) as response:
        job_id = (await response.json())["jobId"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with session.get(f"{url}/api/v1/jobs/{job_id}/status") as response:
            message: str = (await response.json())["message"] or ""
        if message.startswith("pid "):
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"the job on {endpoint} never reported its pid")


async def test_a_killed_server_takes_a_gil_holding_handler_and_forked_children_with_it(tmp_path: Path) -> None:
    """No Python code can run in a worker whose handler holds the GIL: the kernel must do the killing."""
    with run_server(tmp_path, config=SERVER_CONFIG.replace("workers = 1", "workers = 3")) as server:
        async with aiohttp.ClientSession() as session:
            forked = (await _running_message(session, server.url, "/fork")).split()
            gil = (await _running_message(session, server.url, "/hold-gil")).split()
            # An orphaned daemon (setsid, double fork), reported once the group watcher has noted it.
            settle = 2 * TREE_SCAN_SECONDS
            daemon = await _running_message(session, server.url, "/setsid", double_fork=True, settle_seconds=settle)
        pids = [int(forked[1]), int(forked[3]), int(gil[1]), int(daemon.split()[3])]
        processes = [psutil.Process(pid) for pid in pids]
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        began = time.monotonic()
        _, alive = psutil.wait_procs(processes, timeout=10)
        survivors = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        for process in survivors:
            process.kill()
        assert not survivors, f"still running after the server died: {[p.pid for p in survivors]}"
        assert time.monotonic() - began < 5


# A process that called setsid() has left the worker's group: killing the group alone misses it.
@pytest.mark.parametrize("double_fork", [False, True], ids=["setsid-child", "orphaned-daemon"])
async def test_cancelling_a_job_kills_a_process_that_left_the_group(
    start_service: ServiceFactory, double_fork: bool
) -> None:
    client = await start_service(endpoints=FAULT_ENDPOINTS, workers=1)
    job_id = await start_job(client, "/setsid", {"seconds": 60, "double_fork": double_fork})
    worker, escaped = await forked_pids(client, job_id)
    assert os.getpgid(escaped) != worker, "the child left the worker's process group"
    assert (await client.delete(f"/api/v1/jobs/{job_id}")).status == 200
    await wait_process_gone(worker)
    await wait_process_gone(escaped)


async def test_a_timeout_kills_an_orphaned_daemon_its_handler_started(start_service: ServiceFactory) -> None:
    client = await start_service(endpoints=FAULT_ENDPOINTS, workers=1)
    job_id = await start_job(client, "/setsid-briefly", {"seconds": 60, "double_fork": True})
    worker, escaped = await forked_pids(client, job_id)
    assert (await wait_finished(client, job_id))["status"] == "expired"
    await wait_process_gone(worker)
    await wait_process_gone(escaped)


async def test_a_worker_killed_from_outside_takes_a_process_that_left_the_group_with_it(
    start_service: ServiceFactory,
) -> None:
    """The pool did not kill it, so the watcher must: it noted the worker's tree before the worker died."""
    client = await start_service(endpoints=FAULT_ENDPOINTS, workers=1)
    # Reported after two of the watcher's scans, so the escaped child has been noted when the test kills.
    payload = {"seconds": 60, "double_fork": True, "settle_seconds": 2 * TREE_SCAN_SECONDS}
    job_id = await start_job(client, "/setsid", payload)
    worker, escaped = await forked_pids(client, job_id)
    os.kill(worker, signal.SIGKILL)
    assert (await wait_finished(client, job_id))["status"] == "failed"
    await wait_process_gone(escaped)


# A worker that dies in the few milliseconds its watcher's interpreter takes to start. Before the fix the
# watcher took getppid() for its worker once running, by then the nearest subreaper (in a container, init),
# and killed that process's whole tree: in CI every process of the machine.
_DIES_AT_ONCE = """
import os, subprocess, sys, time
from jobs.pool.deathsig import become_child_subreaper
from jobs.pool.group import WATCHER_MARK, lead_own_group
become_child_subreaper()  # orphans come here, as they would to init

def watcher_execd(me):  # its command line carries the mark once it has exec'd its interpreter
    for tid in os.listdir(f"/proc/{me}/task"):
        with open(f"/proc/{me}/task/{tid}/children") as children:
            for kid in children.read().split():
                try:
                    with open(f"/proc/{kid}/cmdline", "rb") as cmdline:
                        if WATCHER_MARK.encode() in cmdline.read():
                            return True
                except OSError:
                    pass
    return False

bystander = subprocess.Popen(["sleep", "60"])
worker = os.fork()
if worker == 0:
    lead_own_group()
    # Die in the window: past the watcher's pre-exec check (it has exec'd), before its interpreter is up
    # and reads its argv (milliseconds later). Looked for without a pause, within a deadline.
    deadline = time.monotonic() + 10
    while not watcher_execd(os.getpid()) and time.monotonic() < deadline:
        pass
    os._exit(0)
os.waitpid(worker, 0)
while True:  # the watcher, reparented here, ends: wait for it (the test's timeout bounds this)
    pid, _ = os.wait()
    if pid != bystander.pid:
        break
print("alive" if bystander.poll() is None else "killed")
bystander.kill()
"""


def test_a_watcher_whose_worker_died_before_it_started_kills_nothing_outside_the_group() -> None:
    import subprocess
    import sys

    for _ in range(5):  # the window is a few milliseconds wide: try it a few times
        done = subprocess.run(
            [sys.executable, "-c", _DIES_AT_ONCE], cwd=ROOT, capture_output=True, text=True, timeout=20
        )
        assert done.stdout.strip() == "alive", done.stdout + done.stderr
