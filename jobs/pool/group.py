"""A worker's process group: whatever its handlers start lives and dies with the worker.

Each worker leads a process group of its own, so the pool stops a worker (timeout, cancel, memory
limit, close) by killing the whole group, and processes a handler forks cannot run on. For the deaths
the pool does not cause (the server killed with kill -9, a worker crashing), a small watcher process
in the group is told by the kernel that the worker died and kills the rest of the group.

With a stall limit, the watcher also kills the group when the server's event loop has not renewed it
(SIGUSR1 to the group) for that long: a server stopped or stalled past its lease has its jobs taken over
elsewhere, and its workers must not run on beside the new attempt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import psutil

from jobs.pool.deathsig import set_parent_death_signal

# In the watcher's command line, so the memory limit does not count the watcher against the handler.
WATCHER_MARK = "docjobs-group-watch"

# The watcher execs a bare interpreter (no site, no copy of the worker's memory). Its signals are blocked
# before the exec, so one that arrives before it waits stays pending and is not lost.
RENEW_SIGNAL = signal.SIGUSR1
_WATCHER_CODE = """import os, signal, sys
limit = float(sys.argv[2])
while True:
    if limit > 0:
        got = signal.sigtimedwait({signal.SIGTERM, signal.SIGUSR1}, limit)
    else:
        got = signal.sigwaitinfo({signal.SIGTERM, signal.SIGUSR1})
    if got is None or got.si_signo == signal.SIGTERM:
        break
os.killpg(0, signal.SIGKILL)
"""


def lead_own_group(stall_seconds: float = 0) -> None:
    """Make this worker the leader of a new process group and start its group watcher (Linux only).

    `stall_seconds` > 0: the group also dies when not renewed (`renew_group`) for that long.
    """
    if not sys.platform.startswith("linux"):
        return
    os.setpgid(0, 0)
    signal.signal(RENEW_SIGNAL, signal.SIG_IGN)  # renewals are for the watcher; the rest of the group ignores them
    worker = os.getpid()
    if os.fork() != 0:
        return
    try:  # the watcher: nothing here may return into the worker's code
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, RENEW_SIGNAL})
        signal.signal(RENEW_SIGNAL, signal.SIG_DFL)
        if not set_parent_death_signal(signal.SIGTERM) or os.getppid() != worker:
            os.killpg(0, signal.SIGKILL)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # hold none of the worker's pipes open
        os.execv(sys.executable, [sys.executable, "-S", "-c", _WATCHER_CODE, WATCHER_MARK, repr(stall_seconds)])  # noqa: S606 - constant code
    finally:
        os._exit(1)


def kill_group(pid: int) -> None:
    """Kill the process group a worker leads, or the worker alone if it has none yet."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def renew_group(pid: int) -> None:
    """Tell a worker's watcher that its server is alive and not stalled."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, RENEW_SIGNAL)


def group_rss(pid: int) -> int | None:
    """Resident memory of a worker and every process under it (its watcher excepted); None if gone."""
    try:
        worker = psutil.Process(pid)
        total: int = worker.memory_info().rss
        descendants = worker.children(recursive=True)
    except psutil.Error:
        return None
    for child in descendants:
        with contextlib.suppress(psutil.Error):
            if WATCHER_MARK not in child.cmdline():
                total += child.memory_info().rss
    return total
