"""The worker process pool: pebble processes, with progress flowing back over a Manager queue."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from pebble import ProcessPool

from jobs.worker import Outcome, initialize_worker, ping, run_handler

ProgressCallback = Callable[[str, int, "str | None"], None]
_STOP = None  # sentinel that ends the progress pump

log = logging.getLogger("docjobs.pool")


class WorkerPool:
    """Runs handler calls in worker processes that can be killed one at a time.

    pebble, unlike `ProcessPoolExecutor`, can stop a running task (by stopping its process) and
    survives a worker that dies; the pool then starts a fresh process in its place.
    """

    def __init__(self, workers: int, handler_modules: list[str], max_tasks_per_worker: int = 0) -> None:
        # forkserver: workers are forked from a small clean process rather than from this one, which
        # runs threads (the progress pump, pebble's own) that fork() would copy in an unknown state.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["jobs.worker", *handler_modules])
        self._manager = self._context.Manager()
        self._progress: Any = self._manager.Queue()
        self._pool = ProcessPool(
            max_workers=workers,
            max_tasks=max_tasks_per_worker,
            initializer=initialize_worker,
            initargs=(self._progress, handler_modules),
            context=self._context,
        )
        self.size = workers
        self._pump: threading.Thread | None = None

    def start_progress_pump(self, callback: ProgressCallback) -> None:
        """Deliver each progress event to `callback`, from a thread; the callback must be thread-safe."""
        self._pump = threading.Thread(target=self._pump_progress, args=(callback,), daemon=True)
        self._pump.start()

    def _pump_progress(self, callback: ProgressCallback) -> None:
        while True:
            try:
                item = self._progress.get()
            except (EOFError, OSError, BrokenPipeError):
                return  # the manager is gone: the pool is closing
            if item is _STOP:
                return
            job_id, percent, message = item
            callback(job_id, percent, message)

    def submit(self, handler_ref: str, job_id: str, payload: dict[str, Any], timeout: float) -> Future[Outcome]:
        """Start a handler call; the future fails with TimeoutError after `timeout` seconds of running."""
        future: Future[Outcome] = self._pool.schedule(run_handler, args=(handler_ref, job_id, payload), timeout=timeout)
        return future

    def warm_up(self, timeout: float = 60.0) -> None:
        """Start the worker processes now rather than on the first job (blocks; run in a thread)."""
        futures = [self._pool.schedule(ping) for _ in range(self.size)]
        for future in futures:
            future.result(timeout=timeout)

    def process_ids(self) -> list[int]:
        """PIDs of the worker processes alive now."""
        # pebble keeps its workers in a dict keyed by pid; there is no public accessor.
        workers = getattr(getattr(self._pool, "_pool_manager", None), "worker_manager", None)
        processes = dict(getattr(workers, "workers", {}))
        return [pid for pid, process in processes.items() if process.is_alive()]

    def manager_process_id(self) -> int | None:
        """PID of the Manager process that carries progress events."""
        process = getattr(self._manager, "_process", None)
        return getattr(process, "pid", None)

    def close(self) -> None:
        """Stop every worker (killing running handlers), the progress pump and the manager."""
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=10)
        if self._pump is not None:
            with contextlib.suppress(EOFError, OSError, BrokenPipeError):
                self._progress.put(_STOP)
            self._pump.join(timeout=5)
        self._manager.shutdown()
