"""The worker process pool, driven from the event loop without threads.

Each worker is a process with its own pipe. The event loop writes tasks into the pipe and reads
"started" / "done" messages back with `add_reader`, and watches each process's sentinel to learn
at once when one dies. Because nothing passes through helper threads, a finished job's worker gets
its next task in the same loop callback that reads the result, and the server always knows which
process runs which job, so a timeout or a cancellation kills exactly that process.

Progress reports travel separately, over a multiprocessing Manager queue read by one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import socket
import threading
from collections.abc import Callable, Sequence
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.managers import SyncManager
from typing import Any

from jobs.outcomes import EndKind, TaskEnd
from jobs.pool.executor import ExecutorListener, ProgressCallback, Task
from jobs.pool.lifeline import die_with_parent
from jobs.pool.messages import RunTask, TaskDone, TaskStarted, WorkerMessage
from jobs.pool.pipe import FramedPipe
from jobs.pool.worker import worker_main
from jobs.pool.worker_process import WorkerProcess, watch_memory
from jobs.settings import PoolSettings

log = logging.getLogger("docjobs.pool")

# A worker holds at most this many tasks: the running one and, for short jobs, a few behind it, so
# that it never sits idle waiting for a busy event loop to hand it work. The runner's
# may_wait_behind decides how many short jobs may actually wait (their expected wait is bounded).
MAX_TASKS_PER_WORKER = 8


class WorkerPool:
    """A fixed number of worker processes; a dead or killed one is replaced at once."""

    def __init__(self, size: int, handler_modules: list[str], options: PoolSettings, max_result_bytes: int = 0) -> None:
        # forkserver: workers fork from a small clean process that has the handler modules loaded,
        # not from this one, whose threads fork() would copy in an unknown state.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["jobs.pool.worker", *handler_modules])
        self._modules = handler_modules
        self.size = size
        self._options = options
        self._max_result_bytes = max_result_bytes
        self._memory_watch: asyncio.Task[None] | None = None
        self._manager: Any = None
        self._progress: Any = None
        self._pump: threading.Thread | None = None
        self._workers: list[WorkerProcess] = []
        self._served: dict[int, int] = {}
        self._listener: ExecutorListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._respawning: set[asyncio.Task[None]] = set()

    async def start(self, listener: ExecutorListener, on_progress: ProgressCallback) -> None:
        """Start the Manager, the progress thread and every worker process."""
        self._listener = listener
        self._loop = asyncio.get_running_loop()
        self._manager = SyncManager(ctx=self._context)
        await asyncio.to_thread(self._manager.start, die_with_parent)
        self._progress = self._manager.Queue()
        self._pump = threading.Thread(target=self._pump_progress, args=(on_progress,), daemon=True)
        self._pump.start()
        workers = await asyncio.gather(*(asyncio.to_thread(self._launch) for _ in range(self.size)))
        for worker in workers:
            await self._attach(worker)
        if self._options.max_worker_rss_bytes:
            watch = watch_memory(lambda: list(self._workers), self._options, self._kill)
            self._memory_watch = asyncio.create_task(watch, name="docjobs-memory-watch")

    def _launch(self) -> WorkerProcess:
        parent_end, child_end = socket.socketpair()
        child_conn = Connection(child_end.detach())
        process = self._context.Process(
            target=worker_main,
            args=(
                child_conn,
                self._progress,
                self._modules,
                self._options.niceness,
                self._max_result_bytes,
                self._options.max_worker_address_space_bytes,
            ),
            daemon=True,
            name="docjobs-worker",
        )
        process.start()
        child_conn.close()
        return WorkerProcess(process, parent_end)

    async def _attach(self, worker: WorkerProcess) -> None:
        assert self._loop is not None
        _, worker.pipe = await self._loop.create_unix_connection(
            lambda: FramedPipe(partial(self._handle_message, worker), partial(self._on_exit, worker)),
            sock=worker.socket,
        )
        self._workers.append(worker)
        # The pipe closes when the process dies; the sentinel is a second witness in case it does not.
        self._loop.add_reader(worker.process.sentinel, self._on_sentinel, worker)

    def _pump_progress(self, callback: ProgressCallback) -> None:
        while True:
            try:
                item = self._progress.get()
            except (EOFError, OSError):
                return  # the manager is gone: the pool is closing
            if item is None:
                return
            job_id, percent, message = item
            callback(job_id, percent, message)

    @property
    def process_ids(self) -> list[int]:
        """PIDs of the live worker processes."""
        return [w.pid for w in self._workers if not w.exited]

    @property
    def runs_jobs(self) -> bool:
        """A pool runs jobs (an API-only instance has the null executor instead)."""
        return True

    @property
    def capacity(self) -> int:
        """Most tasks the pool holds at once, running and waiting inside workers."""
        return self.size * MAX_TASKS_PER_WORKER

    def send(self, task: Task, may_queue_behind: Callable[[Sequence[Task]], bool]) -> bool:
        """Give the task to an idle worker, or queue it behind short ones; False when all are busy."""
        # A worker that has been given its last task before recycling takes no more: under steady
        # load its queue would otherwise never empty, and it would never be recycled.
        candidates = [w for w in self._workers if not w.exited and not self._has_all_its_tasks(w)]
        target = next((w for w in candidates if not w.tasks), None)
        if target is None:
            queueable = [w for w in candidates if len(w.tasks) < MAX_TASKS_PER_WORKER]
            queueable.sort(key=lambda w: len(w.tasks))  # behind the shortest queue
            target = next((w for w in queueable if may_queue_behind(w.tasks)), None)
        if target is None:
            return False
        assert target.pipe is not None
        if not target.pipe.send(RunTask(task.job.id, task.handler_ref, task.job.payload)):
            return False  # the worker just died; its pipe's closing replaces it
        task.worker_pid = target.pid
        target.tasks.append(task)
        return True

    def cancel(self, task: Task) -> bool:
        """Stop a task: kill its process if it runs; if it only waits in a worker, skip it there.

        Returns True when a running worker process was killed.
        """
        task.cancelled = True
        worker = self._worker_of(task)
        if worker is None or task.started_at is None:
            return False
        task.kill_reason = "cancelled"
        self._kill(worker)
        return True

    def _worker_of(self, task: Task) -> WorkerProcess | None:
        return next((w for w in self._workers if task in w.tasks), None)

    def _on_sentinel(self, worker: WorkerProcess) -> None:
        assert self._loop is not None
        self._loop.remove_reader(worker.process.sentinel)
        # Let the pipe deliver what the process wrote before it died, then close it if it has not.
        self._loop.call_later(1.0, self._abort_pipe, worker)

    def _abort_pipe(self, worker: WorkerProcess) -> None:
        if not worker.exited and worker.pipe is not None:
            worker.pipe.abort()

    def _handle_message(self, worker: WorkerProcess, message: WorkerMessage) -> None:
        assert self._listener is not None and self._loop is not None
        if worker.exited or not worker.tasks:
            return
        task = worker.tasks[0]
        if isinstance(message, TaskStarted):
            if task.cancelled:
                task.kill_reason = "cancelled"
                self._kill(worker)  # deleted while it waited in this worker: stop it before it does anything
                return
            task.started_at = message.at
            task.timer = self._loop.call_later(task.job.timeout_seconds, self._on_timeout, worker, task)
            self._listener.task_started(task)
            return
        self._task_done(worker, task, message)

    def _task_done(self, worker: WorkerProcess, task: Task, message: TaskDone) -> None:
        assert self._listener is not None
        worker.tasks.popleft()
        if task.timer is not None:
            task.timer.cancel()
        outcome = message.outcome
        if not task.cancelled:
            self._listener.task_ended(task, TaskEnd(outcome.kind, outcome.value, outcome.detail, result=outcome.result))
        self._served[worker.pid] = self._served.get(worker.pid, 0) + 1
        if self._has_all_its_tasks(worker) and not worker.tasks:
            self._kill(worker)  # recycled: bounds the damage of handlers that leak memory
        self._listener.capacity_freed()

    def _has_all_its_tasks(self, worker: WorkerProcess) -> bool:
        """Whether the worker has served or holds pool.max_tasks_per_worker tasks (0: no limit)."""
        max_tasks = self._options.max_tasks_per_worker
        return bool(max_tasks) and self._served.get(worker.pid, 0) + len(worker.tasks) >= max_tasks

    def _on_timeout(self, worker: WorkerProcess, task: Task) -> None:
        if worker.tasks and worker.tasks[0] is task and not worker.exited:
            task.kill_reason = "timeout"
            self._kill(worker)

    def _kill(self, worker: WorkerProcess) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            worker.process.kill()

    def _on_exit(self, worker: WorkerProcess) -> None:
        """The worker's pipe closed: its process is gone (or going); settle its tasks and replace it."""
        assert self._listener is not None and self._loop is not None
        if worker.exited:
            return
        worker.exited = True
        self._loop.remove_reader(worker.process.sentinel)
        self._kill(worker)  # a pipe that closed under a live process leaves it of no use
        worker.process.join(timeout=1)
        exitcode = worker.process.exitcode
        self._workers.remove(worker)
        self._served.pop(worker.pid, None)
        for task in worker.tasks:
            if task.timer is not None:
                task.timer.cancel()
            if task.started_at is None and not task.cancelled:
                self._listener.task_returned(task)  # never began: safe to run elsewhere
            elif not task.cancelled or task.kill_reason == "timeout":
                kind: EndKind = task.kill_reason if task.kill_reason in ("timeout", "memory") else "died"
                self._listener.task_ended(task, TaskEnd(kind, detail=worker.kill_detail, exitcode=exitcode))
        worker.tasks.clear()
        if not self._closing:
            respawn = asyncio.ensure_future(self._replace())
            self._respawning.add(respawn)
            respawn.add_done_callback(self._respawning.discard)

    async def _replace(self) -> None:
        assert self._listener is not None
        try:
            worker = await asyncio.to_thread(self._launch)
        except Exception:
            log.exception("could not start a replacement worker; retrying in 1 s")
            await asyncio.sleep(1)
            await self._replace()
            return
        if self._closing:
            self._kill(worker)
            worker.socket.close()
            return
        await self._attach(worker)
        self._listener.capacity_freed()

    async def close(self) -> None:
        """Kill every worker, then stop the progress thread and the Manager."""
        self._closing = True
        if self._memory_watch is not None:
            self._memory_watch.cancel()
        for task in list(self._respawning):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert self._loop is not None
        for worker in list(self._workers):
            worker.exited = True
            self._loop.remove_reader(worker.process.sentinel)
            self._kill(worker)
            if worker.pipe is not None:
                worker.pipe.abort()
        await asyncio.to_thread(self._join_all)
        if self._progress is not None:
            with contextlib.suppress(EOFError, OSError):
                self._progress.put(None)
        if self._pump is not None:
            await asyncio.to_thread(self._pump.join, 5)
        if self._manager is not None:
            await asyncio.to_thread(self._manager.shutdown)

    def _join_all(self) -> None:
        for worker in self._workers:
            worker.process.join(timeout=5)
        self._workers.clear()
