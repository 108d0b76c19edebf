"""The worker process pool, driven from the event loop without threads.

Each worker is a process with its own pipe. The event loop writes tasks into the pipe and reads
"started" / "done" messages back with `add_reader`, and watches each process's sentinel to learn
at once when one dies. Because nothing passes through helper threads, a finished job's worker gets
its next task in the same loop callback that reads the result, and the server always knows which
process runs which job, so a timeout or a cancellation kills exactly that process.

Progress reports travel over the same pipe: there is no shared process (such as a multiprocessing
Manager) whose death would break every job that reports progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import socket
from collections.abc import Callable, Sequence
from functools import partial
from multiprocessing.connection import Connection

from jobs.outcomes import EndKind, TaskEnd
from jobs.pool.executor import ExecutorListener, ProgressCallback, Task
from jobs.pool.forkserver_main import export_main_path
from jobs.pool.group import kill_group, renew_group
from jobs.pool.messages import RunTask, TaskDone, TaskProgress, TaskStarted, Wire, worker_message
from jobs.pool.pipe import FramedPipe
from jobs.pool.stderr import StderrLines
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

    def __init__(
        self,
        size: int,
        handler_modules: list[str],
        options: PoolSettings,
        max_result_bytes: int = 0,
        stall_seconds: float = 0,
    ) -> None:
        # forkserver: workers fork from a small clean process that has the handler modules loaded,
        # not from this one, whose threads fork() would copy in an unknown state.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["jobs.pool.forkserver_hook", "jobs.pool.worker", *handler_modules])
        self._modules = handler_modules
        self.size = size
        self._options = options
        self._max_result_bytes = max_result_bytes
        # > 0: workers die when this event loop has not renewed them for that long (jobs/pool/group.py).
        self._stall_seconds = stall_seconds
        self._renewals: asyncio.Task[None] | None = None
        self._memory_watch: asyncio.Task[None] | None = None
        self._on_progress: ProgressCallback | None = None
        self._workers: list[WorkerProcess] = []
        self._served: dict[int, int] = {}
        self._listener: ExecutorListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._respawning: set[asyncio.Task[None]] = set()

    async def start(self, listener: ExecutorListener, on_progress: ProgressCallback) -> None:
        """Start every worker process."""
        self._listener = listener
        self._on_progress = on_progress
        self._loop = asyncio.get_running_loop()
        # Started here, on the loop's thread, not in a to_thread helper: the forkserver's death signal
        # follows the thread that started it, and helper threads come and go.
        export_main_path()  # before the forkserver starts: it reads the path from its environment
        multiprocessing.forkserver.ensure_running()
        workers = await asyncio.gather(*(asyncio.to_thread(self._launch) for _ in range(self.size)))
        for worker in workers:
            await self._attach(worker)
        if self._stall_seconds > 0:
            self._renewals = asyncio.create_task(self._renew_forever(), name="docjobs-worker-renewals")
        if self._options.max_worker_rss_bytes:
            watch = watch_memory(lambda: list(self._workers), self._options, self._kill)
            self._memory_watch = asyncio.create_task(watch, name="docjobs-memory-watch")

    def _launch(self) -> WorkerProcess:
        parent_end, child_end = socket.socketpair()
        child_conn = Connection(child_end.detach())
        stderr_end, child_stderr_end = socket.socketpair()  # becomes the worker's fd 2
        child_stderr = Connection(child_stderr_end.detach())
        process = self._context.Process(
            target=worker_main,
            args=(
                child_conn,
                self._modules,
                self._options.niceness,
                self._max_result_bytes,
                self._stall_seconds,
                self._options.max_worker_address_space_bytes,
            ),
            kwargs={"stderr": child_stderr},
            daemon=True,
            name="docjobs-worker",
        )
        process.start()
        child_conn.close()
        child_stderr.close()
        return WorkerProcess(process, parent_end, stderr=stderr_end)

    async def _attach(self, worker: WorkerProcess) -> None:
        assert self._loop is not None
        _, worker.pipe = await self._loop.create_unix_connection(
            lambda: FramedPipe(partial(self._handle_message, worker), partial(self._on_exit, worker)),
            sock=worker.socket,
        )
        if worker.stderr is not None:
            pid = worker.pid
            worker.stderr_transport, _ = await self._loop.create_unix_connection(
                lambda: StderrLines(pid), sock=worker.stderr
            )
        self._workers.append(worker)
        # The pipe closes when the process dies; the sentinel is a second witness in case it does not.
        self._loop.add_reader(worker.process.sentinel, self._on_sentinel, worker)

    async def _renew_forever(self) -> None:
        # Four renewals per stall limit: a busy loop may be late with one without killing anything.
        while True:
            for worker in self._workers:
                renew_group(worker.pid)
            await asyncio.sleep(self._stall_seconds / 4)

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
        if not target.pipe.send(RunTask(task.job.id, task.handler_ref, task.job.payload).to_wire()):
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

    def _handle_message(self, worker: WorkerProcess, wire: Wire) -> None:
        assert self._listener is not None and self._loop is not None
        if worker.exited or not worker.tasks:
            return
        task = worker.tasks[0]
        message = worker_message(wire)
        if isinstance(message, TaskProgress):
            if self._on_progress is not None and message.job_id == task.job.id and not task.cancelled:
                self._on_progress(message.job_id, message.percent, message.message)
            return
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
            result = bytes(outcome.result)  # already bytes off the pipe: bytes() returns the same object
            end = TaskEnd(outcome.kind, outcome.value, outcome.detail, where=outcome.where, result=result)
            self._listener.task_ended(task, end)
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
        kill_group(worker.pid)  # the processes its handler started go with it

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
            if worker.stderr is not None:
                worker.stderr.close()
            return
        await self._attach(worker)
        self._listener.capacity_freed()

    async def close(self) -> None:
        """Kill every worker and wait for them to exit."""
        self._closing = True
        for watch in (self._memory_watch, self._renewals):
            if watch is not None:
                watch.cancel()
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
            if worker.stderr_transport is not None:
                worker.stderr_transport.close()
        await asyncio.to_thread(self._join_all)

    def _join_all(self) -> None:
        for worker in self._workers:
            worker.process.join(timeout=5)
        self._workers.clear()
