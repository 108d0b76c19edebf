"""Handlers for fault tests: each leaves evidence on disk, so what ran (and how often) is counted."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from jobs import report_progress


def record_run(payload: dict[str, Any]) -> dict[str, Any]:
    """Append 'began', a 'tick' every 0.1 s, then 'ended' (tag, pid, time) to payload['log'].

    Two attempts overlap exactly when one's ticks fall between the other's 'began' and its last line.
    """
    log = Path(str(payload["log"]))
    tag = str(payload.get("tag", ""))
    _append(log, {"tag": tag, "event": "began", "pid": os.getpid(), "at": time.time()})
    report_progress(1, f"pid {os.getpid()} running {tag}")
    deadline = time.monotonic() + float(payload.get("seconds", 0))
    while time.monotonic() < deadline:
        time.sleep(0.1)
        _append(log, {"tag": tag, "event": "tick", "pid": os.getpid(), "at": time.time()})
    _append(log, {"tag": tag, "event": "ended", "pid": os.getpid(), "at": time.time()})
    return {"success": True, "data": {"tag": tag}}


def fork_sleeper(payload: dict[str, Any]) -> dict[str, Any]:
    """Fork a child that sleeps, report both pids, then sleep too: its child must die with its job."""
    child = os.fork()
    if child == 0:
        time.sleep(float(payload.get("seconds", 60)))
        os._exit(0)
    report_progress(1, f"pid {os.getpid()} child {child}")
    time.sleep(float(payload.get("seconds", 60)))
    return {"success": True}


def fork_hog(payload: dict[str, Any]) -> dict[str, Any]:
    """Fork a child that allocates `megabytes` and holds them; the worker itself stays small."""
    child = os.fork()
    if child == 0:
        chunks = [bytearray(1024 * 1024) for _ in range(int(payload.get("megabytes", 100)))]
        for chunk in chunks:
            chunk[::4096] = b"x" * len(chunk[::4096])  # touch every page so it is really resident
        time.sleep(float(payload.get("seconds", 30)))
        os._exit(0)
    report_progress(1, f"pid {os.getpid()} child {child}")
    os.waitpid(child, 0)
    return {"success": True}


def hold_gil(payload: dict[str, Any]) -> dict[str, Any]:
    """Spend 'forever' inside one C call that never releases the GIL (catastrophic regex backtracking)."""
    report_progress(1, f"pid {os.getpid()} holding the GIL")  # sent at once, over the worker's pipe
    matched = re.match(r"(a+)+$", "a" * 64 + "b")
    return {"success": matched is not None}


def _append(log: Path, record: dict[str, Any]) -> None:
    with log.open("a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")
