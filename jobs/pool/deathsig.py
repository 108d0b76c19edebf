"""Kernel-delivered death signals: a process that must not outlive its parent, even without the GIL.

A Python thread that waits for the parent (jobs/pool/lifeline.py) cannot run while a handler holds
the GIL in a long C call, so such a worker outlived its killed server by ~22 s. Linux's
PR_SET_PDEATHSIG needs no code to run in the child at all: the kernel signals it when its parent dies.
The parent of a worker is the forkserver, so the forkserver is given the same signal for the server's
death (jobs/pool/forkserver_hook.py): server dies, forkserver dies, workers die.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36


def set_parent_death_signal(signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send `signum` to this process when its parent dies; False where unsupported.

    The signal follows the parent *thread* that forked us, so the parent must start us from a thread
    that lives as long as it does (the pool starts the forkserver from the event loop's thread).
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)  # the parent died before the signal was armed
    return True


def become_child_subreaper() -> bool:
    """Adopt this process's orphaned descendants (instead of init); False where unsupported.

    A handler's grandchild whose parent exited (a daemon's double fork) then stays in this process's
    tree, where the pool can find it and kill it with the worker.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
