"""Code that runs inside the worker processes. Plain top-level functions, picklable by reference."""

from __future__ import annotations

import importlib
import os
import pickle
import resource
import signal
import threading
import time
from functools import cache
from multiprocessing.connection import Connection
from typing import Any

from jobs.pool.deathsig import set_parent_death_signal
from jobs.pool.encode import ResultTooLarge, encode_bounded
from jobs.pool.failures import describe, log_failure
from jobs.pool.group import lead_own_group
from jobs.pool.lifeline import die_with_parent
from jobs.pool.messages import OUT_OF_MEMORY, Outcome, RunTask, TaskDone, TaskProgress, TaskStarted
from jobs.progress import ProgressSink, reporting_to
from jobs.trim import pin_large_blocks_to_mmap


class PipeSink:
    """Progress over the worker's own pipe: no shared process whose death could fail jobs."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # A handler may report from a thread of its own while the main thread sends "done".
        self._lock = threading.Lock()

    def put(self, item: tuple[str, int, str | None]) -> None:
        """Send one report; a broken pipe is the server's loss to notice, never the handler's."""
        with self._lock:
            self._conn.send(TaskProgress(*item).to_wire())

    def send(self, message: TaskStarted | TaskDone) -> None:
        """Send a lifecycle message under the same lock as progress, so frames never interleave."""
        # What Connection.send does, at protocol 5 (a result's buffer pickles as bytes: messages.py), with
        # the plain pickler: the messages hold only plain data, and a ForkingPickler copies its dispatch
        # table on every construction (a third of the cost of sending a small message).
        frame = pickle.dumps(message.to_wire(), pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._conn.send_bytes(frame)


class _WorkerContext:
    """Per-process state of a worker: the progress sink it was started with."""

    sink: ProgressSink | None = None


def initialize_worker(
    sink: ProgressSink, modules: list[str], niceness: int = 0, stall_seconds: float = 0, address_space: int = 0
) -> None:
    """Worker start-up: keep the progress sink, ignore Ctrl-C, lower priority, limit memory, import handlers."""
    # Ctrl-C in a terminal reaches the whole process group; the server decides what happens to
    # running jobs, so workers must not die on SIGINT on their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WorkerContext.sink = sink
    # A worker must not outlive the server, or a taken-over job would run twice. The kernel's signal
    # works while a handler holds the GIL; the lifeline thread covers platforms without it.
    set_parent_death_signal()
    lead_own_group(stall_seconds)  # before any thread starts: the group watcher is forked from here
    die_with_parent()
    if niceness:
        # Handlers burn CPU; the web process must still answer status polls at once. A nicer
        # worker yields the CPU to it and loses nothing when the machine has cores to spare.
        os.nice(niceness)
    pin_large_blocks_to_mmap()  # a freed result goes back to the system, not to a heap's top
    if address_space > 0:
        limit_address_space(address_space)
    for module in modules:
        importlib.import_module(module)


def limit_address_space(limit: int) -> None:
    """Have the kernel refuse this process's allocations past `limit` bytes (RLIMIT_AS), at once.

    The RSS watch samples every memory_check_interval_seconds and a job can allocate gigabytes in
    between; under RLIMIT_AS the allocation itself fails and the handler sees a MemoryError.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


@cache
def _resolve(ref: str) -> Any:
    module_name, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _call(handler_ref: str, job_id: str, payload: dict[str, Any]) -> Any:
    handler = _resolve(handler_ref)
    sink = _WorkerContext.sink
    if sink is None:
        return handler(payload)
    with reporting_to(job_id, sink):
        return handler(payload)


def run_handler(handler_ref: str, job_id: str, payload: dict[str, Any], max_result_bytes: int = 0) -> Outcome:
    """Run one handler call and return its JSON-encoded result, or its error."""
    try:
        result = _call(handler_ref, job_id, payload)
        if not isinstance(result, dict):
            return Outcome("error", "TypeError", f"the handler returned {type(result).__name__}, not a JSON object")
        return _encode(result, max_result_bytes)
    except MemoryError:
        return _out_of_memory()
    except (Exception, SystemExit) as exc:  # SystemExit too: a handler calling sys.exit() fails its job only
        failure = describe(exc)
        log_failure(job_id, exc, failure)
        return Outcome("error", failure.error_type, failure.message, failure.where)


def _encode(result: dict[str, Any], max_result_bytes: int) -> Outcome:
    try:
        # Encoding here, in the worker, keeps large results' CPU cost off the event loop; the limit is
        # checked while the text is built, so an oversized result fails before it fills the worker.
        return Outcome("ok", result=encode_bounded(result, max_result_bytes))
    except ResultTooLarge:
        return Outcome(
            "error",
            "ResultTooLarge",
            f"the result's JSON is over the configured limit of {_mib(max_result_bytes)} (jobs.max_result_bytes)",
        )
    except (TypeError, ValueError) as exc:
        return Outcome("error", type(exc).__name__, f"the handler's result is not valid JSON: {exc}")


def _out_of_memory() -> Outcome:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    limit = "" if soft == resource.RLIM_INFINITY else f" of {_mib(soft)} (pool.max_worker_address_space_bytes)"
    return Outcome("error", OUT_OF_MEMORY, f"the job ran out of memory: it needed more than its worker's limit{limit}")


def _mib(size: int) -> str:
    return f"{size / 1048576:.1f} MiB"


def worker_main(
    conn: Connection,
    modules: list[str],
    niceness: int = 0,
    max_result_bytes: int = 0,
    stall_seconds: float = 0,
    address_space: int = 0,
    stderr: Connection | None = None,
) -> None:
    """A worker process's whole life: run the tasks that arrive on `conn` one after the other.

    Each task is announced with a "started" message before its handler runs, so the server knows
    exactly when a job starts (and when its time limit begins), then answered with "done".
    """
    if stderr is not None:
        # Everything written to fd 2 from here on (Python, C extensions, Rust backtraces) reaches the
        # server, which logs it as JSON records like its own.
        os.dup2(stderr.fileno(), 2)
        stderr.close()
    pipe = PipeSink(conn)
    initialize_worker(pipe, modules, niceness, stall_seconds, address_space)
    while True:
        try:
            wire = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        if wire is None:
            return
        task = RunTask.from_wire(wire)
        pipe.send(TaskStarted(task.job_id, time.time()))
        outcome = run_handler(task.handler_ref, task.job_id, task.payload, max_result_bytes)
        pipe.send(TaskDone(task.job_id, outcome))
        if outcome.value == OUT_OF_MEMORY:
            return  # a heap that hit its limit may be left fragmented: the pool starts a fresh worker
