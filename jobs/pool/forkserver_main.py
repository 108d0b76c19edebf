"""Keeps workers from re-running the server's main script when they start.

multiprocessing prepares every new process by importing the parent's main script (`server.py`, and
with it aiohttp, redis and every API module) unless the process's own `__main__` already names that
file. Workers need none of it: their target and the handlers are imported by module name, and the
forkserver has them preloaded. The forkserver could import the script once for all of them
(`set_forkserver_preload(["__main__", ...])`), but Python 3.11's forkserver never receives the path
(it asks `get_preparation_data` for a key, `main_path`, that the function does not return), and it
would load the whole API into every worker anyway. Instead the parent passes the path in the
environment and the forkserver gives its own `__main__` that file name, so its forks skip the import:
a worker started in 0.7 s of CPU on a loaded 2-core machine before, and a few milliseconds after.
"""

from __future__ import annotations

import os
import sys
from multiprocessing import spawn

MAIN_PATH_VARIABLE = "DOCJOBS_FORKSERVER_MAIN_PATH"


def export_main_path() -> None:
    """In the server, before the forkserver starts: tell it the path multiprocessing will send."""
    main_path = spawn.get_preparation_data("docjobs-worker").get("init_main_from_path")
    if main_path:
        os.environ[MAIN_PATH_VARIABLE] = main_path
    else:  # started by module name (pytest, `python -m`): multiprocessing skips `__main__` already
        os.environ.pop(MAIN_PATH_VARIABLE, None)


def adopt_main_path() -> None:
    """In the forkserver: name its `__main__` after the server's script, which its forks then skip."""
    main_path = os.environ.pop(MAIN_PATH_VARIABLE, None)
    if main_path:
        sys.modules["__main__"].__file__ = main_path
