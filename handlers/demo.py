"""Small demonstration handlers: try the service without a workbook, and exercise it in tests."""

from __future__ import annotations

import os
import time
from typing import Any

from jobs import report_progress


def echo(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the payload: the quickest possible job."""
    return {"success": True, "message": "Echoed the payload", "data": payload}


def validate_sleep(payload: dict[str, Any]) -> None:
    """`seconds` must be a number from 0 to 3600; `steps` an integer from 1 to 1000."""
    seconds = payload.get("seconds", 1)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 3600:
        raise ValueError("seconds: must be a number from 0 to 3600")
    steps = payload.get("steps", 10)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 1000:
        raise ValueError("steps: must be an integer from 1 to 1000")


def sleep(payload: dict[str, Any]) -> dict[str, Any]:
    """Wait `seconds` in `steps` steps, reporting progress after each; returns the worker's pid."""
    validate_sleep(payload)
    seconds, steps = float(payload.get("seconds", 1)), int(payload.get("steps", 10))
    report_progress(0, f"pid {os.getpid()} starting")
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        report_progress(step * 100 / steps, f"step {step} of {steps}")
    return {"success": True, "message": f"Slept {seconds:g} s", "data": {"pid": os.getpid()}}


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
    time.sleep(float(payload.get("delay", 0.05)))
    os._exit(int(payload.get("exit_code", 70)))


def hog_memory(payload: dict[str, Any]) -> dict[str, Any]:
    """Allocate `megabytes` of memory and hold it (a stand-in for a workbook too big to parse)."""
    chunks = [bytearray(1024 * 1024) for _ in range(int(payload.get("megabytes", 100)))]
    for chunk in chunks:
        chunk[::4096] = b"x" * len(chunk[::4096])  # touch every page so it is really resident
    time.sleep(float(payload.get("hold_seconds", 1)))
    return {"success": True, "message": "Held memory", "data": {"megabytes": len(chunks)}}


def big_result(payload: dict[str, Any]) -> dict[str, Any]:
    """Return `rows` rows of `width` characters (a stand-in for the JSON of a large workbook)."""
    rows, width = int(payload.get("rows", 1000)), int(payload.get("width", 100))
    return {"success": True, "message": "Built rows", "data": {"rows": [f"{i:08d}" + "x" * width for i in range(rows)]}}
