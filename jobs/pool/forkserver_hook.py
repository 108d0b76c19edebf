"""Imported only by the forkserver (as a preload module): it dies with the server that started it.

Importing is the only hook multiprocessing gives into the forkserver process, hence the side effect.
With it, a server's death kills the forkserver, whose death in turn kills every worker
(jobs/pool/deathsig.py), without any Python code having to run in either. It also keeps the forks
from importing the server's script again (jobs/pool/forkserver_main.py).
"""

from __future__ import annotations

from jobs.pool.deathsig import set_parent_death_signal
from jobs.pool.forkserver_main import adopt_main_path

set_parent_death_signal()
adopt_main_path()
