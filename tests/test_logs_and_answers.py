"""What a failing handler puts in the logs and in the answer, on a live server.py: the log says which
job, the exception's type and where; the bounded message goes only to the job's owner; a worker's raw
stderr comes out as JSON log lines."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from jobs.logs_bounds import MESSAGE_MAX_CHARS, bounded
from tests.process import ServerProcess, run_server

CONFIG = """
[server]
use_uvloop = true

[pool]
workers = 1

[endpoints]
"/api/v1/demo/fail" = "tests.fault_handlers:fail"
"/api/v1/test/key-error" = "tests.fault_handlers:key_error"
"/api/v1/test/stderr" = "tests.fault_handlers:stderr_noise"
"""
MARKER = "SALARY-4711-"
DEADLINE = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(tmp_path_factory.mktemp("logs"), config=CONFIG) as running:
        yield running


async def call(server: ServerProcess, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(f"{server.url}{path}", json=payload) as response:
        return response.status, await response.json()


def records(server: ServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]


async def record_where(server: ServerProcess, wanted: Any) -> dict[str, Any]:
    until = time.monotonic() + DEADLINE
    while True:
        found = [r for r in records(server) if wanted(r)]
        if found:
            return found[-1]
        assert time.monotonic() < until, "the expected log record never came"
        await asyncio.sleep(0.05)


async def test_a_huge_handler_message_is_bounded_and_kept_out_of_the_logs(server: ServerProcess) -> None:
    message = MARKER + "x" * 500_000  # under aiohttp's 1 MiB large-body warning, far past every bound
    status, answer = await call(server, "/api/v1/demo/fail", {"message": message})
    assert status == 422, answer
    assert answer["message"].startswith(f"Job failed: {MARKER}") and len(answer["message"]) <= MESSAGE_MAX_CHARS
    failed = await record_where(server, lambda r: r["event"] == "job.failed" and r.get("error_type") == "RuntimeError")
    assert re.fullmatch(r"tests\.fault_handlers:\d+", failed["where"]), failed
    assert "message" not in failed
    trace = await record_where(server, lambda r: r["event"] == "handler.exception" and r["job_id"] == failed["job_id"])
    assert trace["level"] == "error" and "tests/fault_handlers.py" in trace["traceback"]
    assert MARKER not in server.logs(), "the payload's text reached the log"


async def test_an_exception_whose_message_says_nothing_is_named(server: ServerProcess) -> None:
    status, answer = await call(server, "/api/v1/test/key-error", {"key": "salary"})
    assert status == 422, answer
    assert answer["message"] == "Job failed: KeyError: 'salary'"
    failed = await record_where(server, lambda r: r["event"] == "job.failed" and r.get("error_type") == "KeyError")
    assert failed["where"].startswith("tests.fault_handlers:")


async def test_a_workers_raw_stderr_comes_out_as_json_log_lines(server: ServerProcess) -> None:
    text = "thread 'main' panicked at src/lib.rs:42:7: index out of bounds"
    status, _ = await call(server, "/api/v1/test/stderr", {"text": text})
    assert status == 200
    line = await record_where(server, lambda r: r["event"] == "worker.stderr" and r.get("line") == text)
    assert line["level"] == "warning" and isinstance(line["worker_pid"], int)
    raw = [row for row in server.logs().splitlines() if "panicked" in row and not row.startswith("{")]
    assert not raw, raw


def test_bounded_cuts_with_an_ellipsis() -> None:
    assert bounded("abc", 3) == "abc"
    assert bounded("abcdef", 4) == "abc\u2026"
