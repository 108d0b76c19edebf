"""Handlers that misbehave on purpose, for the tests and benchmarks only (never registered in config.toml).

Each stands in for something a real handler does on a bad day: burn the CPU, raise, kill its worker,
eat memory, fail on a missing key, write to fd 2 past Python, build a very large result, tell which
modules it has loaded, or start a process that leaves the worker's process group; one notes each of its
runs on disk, so a job run twice is counted. Server subprocesses started from the repository root import
them as `tests.fault_handlers:<name>`.
"""

from __future__ import annotations

import os
import sys
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


def key_error(payload: dict[str, Any]) -> dict[str, Any]:
    """Fail as buggy handler code does: a lookup of a key the data does not have."""
    columns: dict[str, int] = {}
    return {"column": columns[str(payload.get("key", "x"))]}


def stderr_noise(payload: dict[str, Any]) -> dict[str, Any]:
    """Write to fd 2 past Python, as a Rust library's panic or a C library's warning does."""
    os.write(2, str(payload.get("text", "thread 'main' panicked at src/lib.rs:1:1")).encode() + b"\n")
    return {"written": True}


def big_result(payload: dict[str, Any]) -> dict[str, Any]:
    """Return `rows` rows of `width` characters (a stand-in for the JSON of a large workbook)."""
    rows, width = int(payload.get("rows", 1000)), int(payload.get("width", 100))
    return {"success": True, "message": "Built rows", "data": {"rows": [f"{i:08d}" + "x" * width for i in range(rows)]}}


def note_run(payload: dict[str, Any]) -> dict[str, Any]:
    """Append `<token> <pid>` to payload['log'] (one line per execution), then sleep `seconds`.

    The token is the client's name for the job (one token, one job, by its idempotency key): a token
    on two lines ran twice. A handler knows nothing of job ids or attempts, so the client's name stands in.
    """
    line = f"{payload['token']} {os.getpid()}\n".encode()
    descriptor = os.open(str(payload["log"]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(descriptor, line)  # one O_APPEND write: lines of workers writing at once never interleave
    finally:
        os.close(descriptor)
    report_progress(1, f"pid {os.getpid()} running {payload['token']}")
    time.sleep(float(payload.get("seconds", 0.1)))  # the handler's behaviour: work a while
    return {"success": True, "message": "Noted", "data": {"token": payload["token"]}}


def loaded_modules(payload: dict[str, Any]) -> dict[str, Any]:
    """Which of the named modules this worker has imported."""
    names = [str(name) for name in payload.get("modules", [])]
    return {"success": True, "data": {name: name in sys.modules for name in names}}


def setsid_sleeper(payload: dict[str, Any]) -> dict[str, Any]:
    """Start a child that leaves the worker's process group (setsid) and sleeps, then sleep too.

    With `double_fork` that child forks once more and exits, leaving an orphaned sleeper: a daemon's
    usual dance. Reports `pid <worker> child <sleeper>` after `settle_seconds`; the sleeper must die with
    the job all the same.
    """
    seconds = float(payload.get("seconds", 60))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os.setsid()
        if payload.get("double_fork") and os.fork() != 0:
            os._exit(0)
        # As a daemon does: let go of the worker's descriptors (its pipes to the server), stdio to /dev/null.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, write_end)
        os.closerange(write_end + 1, os.sysconf("SC_OPEN_MAX"))
        os.write(write_end, str(os.getpid()).encode())
        os.close(write_end)
        time.sleep(seconds)  # the escaped process's behaviour: linger
        os._exit(0)
    os.close(write_end)
    sleeper = int(os.read(read_end, 32))
    os.close(read_end)
    if payload.get("double_fork"):
        os.waitpid(child, 0)  # the middle process exits at once
    time.sleep(float(payload.get("settle_seconds", 0)))  # the handler's behaviour: work before reporting
    report_progress(1, f"pid {os.getpid()} child {sleeper}")
    time.sleep(seconds)
    return {"success": True}
