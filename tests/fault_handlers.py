"""Handlers that misbehave on purpose, for the tests and benchmarks only (never registered in config.toml).

Each stands in for something a real handler does on a bad day: burn the CPU, raise, kill its worker,
or eat memory. Server subprocesses started from the repository root import them as
`tests.fault_handlers:<name>`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from jobs import report_progress


def burn_cpu(payload: dict[str, Any]) -> dict[str, Any]:
    """Spin the CPU for `milliseconds` (a stand-in for parsing a big workbook)."""
    milliseconds = float(payload.get("milliseconds", 50))
    if payload.get("report_pid", True):
        report_progress(0, f"pid {os.getpid()} burning")
    deadline = time.perf_counter() + milliseconds / 1000
    spins = 0
    while time.perf_counter() < deadline:
        spins += 1
    return {"success": True, "message": "Burned CPU", "data": {"spins": spins, "pid": os.getpid()}}


def fail(payload: dict[str, Any]) -> dict[str, Any]:
    """Raise with the payload's `message`: how a handler reports a failure."""
    raise RuntimeError(str(payload.get("message", "Excel file not found")))


def crash(payload: dict[str, Any]) -> dict[str, Any]:
    """Kill the worker process itself (a stand-in for a segfault or an out-of-memory kill)."""
    report_progress(5, f"pid {os.getpid()} about to crash")
    time.sleep(float(payload.get("delay", 0.05)))  # the handler's behaviour: report, then die a moment later
    os._exit(int(payload.get("exit_code", 70)))


def hog_memory(payload: dict[str, Any]) -> dict[str, Any]:
    """Allocate `megabytes` of memory and hold it (a stand-in for a workbook too big to parse)."""
    chunks = [bytearray(1024 * 1024) for _ in range(int(payload.get("megabytes", 100)))]
    for chunk in chunks:
        chunk[::4096] = b"x" * len(chunk[::4096])  # touch every page so it is really resident
    time.sleep(float(payload.get("hold_seconds", 1)))  # the handler's behaviour: hold the memory a while
    return {"success": True, "message": "Held memory", "data": {"megabytes": len(chunks)}}
