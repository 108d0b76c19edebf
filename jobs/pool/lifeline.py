"""Pool processes end when the server that started them ends, however it ends.

A server killed outright (kill -9, the out-of-memory killer) runs no shutdown code. Its workers
must not run on: their results have nowhere to go, and on a shared store another instance takes
the job over, so the same job would run twice at once. Linux's parent-death signal does not help
here, because a forkserver child's parent is the forkserver, which lives as long as any of its
children do.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess


def die_with_parent() -> None:
    """Kill this process as soon as the process that started it has exited.

    multiprocessing hands every child started by spawn or forkserver a sentinel: a pipe whose
    other end only the parent holds, so it reads end-of-file the moment the parent is gone.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return  # not a multiprocessing child: nothing to follow
    threading.Thread(target=_kill_self_after, args=(parent,), name="docjobs-lifeline", daemon=True).start()


def _kill_self_after(parent: BaseProcess) -> None:
    parent.join()
    os.kill(os.getpid(), signal.SIGKILL)
