"""A worker's process group: whatever its handlers start lives and dies with the worker.

Each worker leads a process group of its own, so the pool stops a worker (timeout, cancel, memory
limit, close) by killing the whole group, and processes a handler forks cannot run on. For the deaths
the pool does not cause (the server killed with kill -9, a worker crashing), a small watcher process
in the group is told by the kernel that the worker died and kills the rest of the group.
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

# The watcher execs a bare interpreter (no site, no copy of the worker's memory). SIGTERM is blocked
# before the exec, so a death signal that arrives before sigwait stays pending and is not lost.
_WATCHER_CODE = "import os,signal\nsignal.sigwait({signal.SIGTERM})\nos.killpg(0,signal.SIGKILL)"


def lead_own_group() -> None:
    """Make this worker the leader of a new process group and start its group watcher (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    os.setpgid(0, 0)
    worker = os.getpid()
    if os.fork() != 0:
        return
    try:  # the watcher: nothing here may return into the worker's code
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        if not set_parent_death_signal(signal.SIGTERM) or os.getppid() != worker:
            os.killpg(0, signal.SIGKILL)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # hold none of the worker's pipes open
        os.execv(sys.executable, [sys.executable, "-S", "-c", _WATCHER_CODE, WATCHER_MARK])  # noqa: S606 - constant code
    finally:
        os._exit(1)


def kill_group(pid: int) -> None:
    """Kill the process group a worker leads, or the worker alone if it has none yet."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


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
