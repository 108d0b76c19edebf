"""A worker's process group: whatever its handlers start lives and dies with the worker.

Each worker leads a process group of its own, so the pool stops a worker (timeout, cancel, memory
limit, close) by killing the whole group, and processes a handler forks cannot run on. For the deaths
the pool does not cause (the server killed with kill -9, a worker crashing), a small watcher process
in the group is told by the kernel that the worker died and kills the rest of the group.

A descendant that calls setsid() leaves the group, so the group is not enough: the worker is also a
child subreaper (a daemon's double-forked grandchild stays in its tree instead of going to init), the
pool kills the worker's whole tree of descendants, found from /proc, along with the group, and the
watcher notes that tree every half second, so after the worker's death it kills what it noted.

With a stall limit, the watcher also kills the group when the server's event loop has not renewed it
(SIGUSR1 to the group) for that long: a server stopped or stalled past its lease has its jobs taken over
elsewhere, and its workers must not run on beside the new attempt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterable

import psutil

from jobs.pool.deathsig import become_child_subreaper, set_parent_death_signal

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
# In the watcher's command line, so the memory limit does not count the watcher against the handler.
WATCHER_MARK = "docjobs-group-watch"
_WATCHER_MARK_BYTES = WATCHER_MARK.encode()  # as /proc/<pid>/cmdline holds it

# The watcher execs a bare interpreter (no site, no copy of the worker's memory). Its signals are blocked
# before the exec, so one that arrives before it waits stays pending and is not lost.
RENEW_SIGNAL = signal.SIGUSR1
# How often the watcher notes the worker's descendants: one started and escaped (setsid, then its
# parent exits) less than this before the worker died is missed; reading a few /proc files costs ~0.1 ms.
TREE_SCAN_SECONDS = 0.5
# The worker's pid comes in argv, never from getppid() here: a worker that died while this interpreter
# started has left it to the nearest subreaper (or init), and the tree of that process is not ours to
# kill (it was every process of the machine when the parent was PID 1).
_WATCHER_CODE = """import os, signal, sys, time
worker, me, limit, scan = int(sys.argv[4]), os.getpid(), float(sys.argv[2]), float(sys.argv[3])
if os.getppid() != worker:  # it died before we could watch it: kill what is left of its group only
    os.killpg(0, signal.SIGKILL)

def started(pid):  # the start time tells a process from a later one with the same pid
    try:
        with open("/proc/%d/stat" % pid, "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[19]
    except (OSError, IndexError):
        return None

def tree(root):
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            threads = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in threads:
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as children:
                    kids = [int(kid) for kid in children.read().split()]
            except OSError:
                continue
            for kid in kids:
                start = started(kid)
                if kid != me and kid not in found and start is not None:
                    found[kid] = start
                    todo.append(kid)
    return found

def worker_tree():  # only while the pid is still that worker's (a pid can be reused once it is gone)
    return tree(worker) if started(worker) == worker_start else {}

worker_start = started(worker)
known = {}
deadline = time.monotonic() + limit
while True:
    wait = scan if limit <= 0 else max(0.0, min(scan, deadline - time.monotonic()))
    got = signal.sigtimedwait({signal.SIGTERM, signal.SIGUSR1}, wait)
    if got is not None and got.si_signo == signal.SIGTERM:
        break
    if got is not None:
        deadline = time.monotonic() + limit
    elif limit > 0 and time.monotonic() >= deadline:
        break
    known = {pid: start for pid, start in known.items() if started(pid) == start}
    known.update(worker_tree())
known.update(worker_tree())
for pid, start in known.items():
    if started(pid) == start:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
os.killpg(0, signal.SIGKILL)
"""


def lead_own_group(stall_seconds: float = 0) -> None:
    """Make this worker the leader of a new process group and start its group watcher (Linux only).

    `stall_seconds` > 0: the group also dies when not renewed (`renew_group`) for that long.
    """
    if not sys.platform.startswith("linux"):
        return
    os.setpgid(0, 0)
    become_child_subreaper()  # orphaned descendants stay in the worker's tree, where kill_group finds them
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
        argv = [
            sys.executable,
            "-S",
            "-c",
            _WATCHER_CODE,
            WATCHER_MARK,
            repr(stall_seconds),
            repr(TREE_SCAN_SECONDS),
            str(worker),
        ]
        os.execv(sys.executable, argv)  # noqa: S606 - constant code
    finally:
        os._exit(1)


def kill_group(pid: int) -> None:
    """Kill a worker, its process group and every descendant (those that left the group by setsid too)."""
    try:
        worker = psutil.Process(pid)
        alive = worker.status() != psutil.STATUS_ZOMBIE
        descendants = worker.children(recursive=True) if alive else []  # before it dies: orphans move on
    except psutil.Error:
        alive, descendants = False, []
    if not alive:
        # It died first (killed from outside, crashed): its watcher was told and is killing the tree it
        # noted, then the group. Killing the whole group now would kill the watcher before it is done.
        _kill_all(p for p in _group_members(pid) if not _is_watcher(p))
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    _kill_all(descendants)


def _kill_all(processes: Iterable[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()  # psutil checks the start time: a reused pid is not killed


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for pid in psutil.pids():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(pid) == pgid:
                members.append(psutil.Process(pid))
    return members


def _is_watcher(process: psutil.Process) -> bool:
    try:
        return WATCHER_MARK in process.cmdline()
    except psutil.Error:
        return False


def renew_group(pid: int) -> None:
    """Tell a worker's watcher that its server is alive and not stalled."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, RENEW_SIGNAL)


def group_rss(pid: int) -> int | None:
    """Resident memory of a worker and every process under it (its watcher excepted); None if gone.

    Runs on the event loop every memory_check_interval_seconds for each worker, so it reads only the
    worker's own tree: psutil's children() reads /proc/<pid>/stat of every process on the machine
    (1.8 ms for 110 processes, a stall of the loop that grows with the machine's process count).
    """
    total = _resident_bytes(pid)
    if total is None:
        return None
    for child in _descendants(pid):
        if _WATCHER_MARK_BYTES not in _command_line(child):
            total += _resident_bytes(child) or 0  # one that exited meanwhile holds nothing
    return total


def _descendants(pid: int) -> list[int]:
    """The processes under `pid`, from each thread's /proc children list (as the watcher reads them)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue  # gone
        for tid in threads:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", "rb") as children:
                    kids = [int(kid) for kid in children.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def _resident_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES  # resident pages, as psutil's rss
    except (OSError, IndexError, ValueError):
        return None


def _command_line(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""
