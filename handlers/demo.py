"""Demonstration handlers for the README tour: try the service without a workbook.

Handlers that misbehave on purpose (burn CPU, crash, hog memory) live in tests/fault_handlers.py.
"""

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
