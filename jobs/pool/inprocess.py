"""An executor that runs handlers in this process, on the event loop: deterministic, for tests.

It keeps the process pool's rules (one running task per slot, a time limit from the start, a slot
that "dies" settles its tasks the same way) without processes, so the runner's state machine can be
driven directly. With `autorun`, a task starts and its handler runs inline on the next loop turns;
without it, a task waits in its slot until the test calls `begin`, then `complete`, `fail`, `crash`,
`time_out` or `progress` decide what happens, exactly when the test says.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from jobs.model import Clock
from jobs.outcomes import EndKind, TaskEnd
from jobs.pool.executor import ExecutorListener, ProgressCallback, Task
from jobs.pool.worker import run_handler
from jobs.progress import reporting_to


class InProcessExecutor:
    """`size` slots in this process; each holds up to `depth` tasks (the first one runs)."""

    runs_jobs = True

    def __init__(
        self,
        size: int = 1,
        *,
        autorun: bool = True,
        depth: int = 1,
        max_result_bytes: int = 0,
        clock: Clock = time.time,
    ) -> None:
        if size < 1 or depth < 1:
            raise ValueError("an in-process executor needs at least one slot of depth one")
        self.size = size
        self.capacity = size * depth
        self._depth = depth
        self._autorun = autorun
        self._max_result_bytes = max_result_bytes
        self._clock = clock
        self._slots: list[deque[Task]] = [deque() for _ in range(size)]
        self._listener: ExecutorListener | None = None
        self._on_progress: ProgressCallback | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sent: list[str] = []  # job ids in the order they were handed over
        self.deaths = 0  # slots that died (crash, timeout, cancellation)
        self._arrived = asyncio.Event()

    @property
    def process_ids(self) -> list[int]:
        """No worker processes: handlers run in this one."""
        return []

    def tasks(self) -> list[Task]:
        """Every task held, slot by slot, the running one first in each."""
        return [task for slot in self._slots for task in slot]

    async def start(self, listener: ExecutorListener, on_progress: ProgressCallback) -> None:
        """Remember whom to report to."""
        self._listener, self._on_progress = listener, on_progress
        self._loop = asyncio.get_running_loop()

    def send(self, task: Task, may_queue_behind: Callable[[Sequence[Task]], bool]) -> bool:
        """Into an empty slot, or behind the shortest queue that `may_queue_behind` accepts."""
        target = next((slot for slot in self._slots if not slot), None)
        if target is None:
            queueable = sorted((s for s in self._slots if len(s) < self._depth), key=len)
            target = next((slot for slot in queueable if may_queue_behind(slot)), None)
        if target is None:
            return False
        target.append(task)
        self.sent.append(task.job.id)
        self._arrived.set()
        if self._autorun:
            self._later(self._run_next, target)
        return True

    def cancel(self, task: Task) -> bool:
        """Like the pool: a running task's slot dies; a waiting one is skipped when its turn comes."""
        task.cancelled = True
        slot = self._slot_of(task.job.id)
        if slot is None or task.started_at is None:
            return False
        task.kill_reason = "cancelled"
        self._die(slot, None)
        return True

    async def close(self) -> None:
        """Drop every task without reporting it."""
        for slot in self._slots:
            for task in slot:
                if task.timer is not None:
                    task.timer.cancel()
            slot.clear()

    async def received(self, job_id: str, times: int = 1) -> None:
        """Wait until the runner has handed this job over `times` times (a returned job comes again)."""
        while self.sent.count(job_id) < times:
            self._arrived.clear()
            await self._arrived.wait()

    async def nth_sent(self, count: int) -> str:
        """Wait until `count` tasks were handed over; the id of the `count`-th."""
        while len(self.sent) < count:
            self._arrived.clear()
            await self._arrived.wait()
        return self.sent[count - 1]

    # --- what a test (or autorun) makes happen ---

    def begin(self, job_id: str) -> Task:
        """The head task of its slot starts now; its time limit counts from here."""
        slot = self._require_slot(job_id)
        task = slot[0]
        if task.job.id != job_id:
            raise ValueError(f"{job_id} waits behind {task.job.id} in its slot")
        if task.cancelled:  # deleted while it waited: the pool would kill the process at this point
            task.kill_reason = "cancelled"
            self._die(slot, None)
            return task
        assert self._loop is not None and self._listener is not None
        task.started_at = self._clock()
        task.timer = self._loop.call_later(task.job.timeout_seconds, self.time_out, job_id)
        self._listener.task_started(task)
        return task

    def progress(self, job_id: str, percent: int, message: str | None = None) -> None:
        """The running handler reports progress (through the same callback as a worker's queue)."""
        assert self._on_progress is not None
        self._on_progress(job_id, percent, message)

    def complete(self, job_id: str, result: dict[str, Any]) -> None:
        """The running handler returns `result`."""
        self._end(job_id, TaskEnd("ok", result=json.dumps(result, separators=(",", ":")).encode()))

    def fail(self, job_id: str, error_type: str, message: str) -> None:
        """The running handler raises."""
        self._end(job_id, TaskEnd("error", error_type, message))

    def crash(self, job_id: str, exitcode: int | None = -9) -> None:
        """The slot holding the job dies as a process would, with this exit code."""
        self._die(self._require_slot(job_id), exitcode)

    def time_out(self, job_id: str) -> None:
        """The running task's time limit passes: its slot is killed (what the pool's timer does)."""
        slot = self._slot_of(job_id)
        if slot is not None and slot[0].job.id == job_id and slot[0].started_at is not None:
            slot[0].kill_reason = "timeout"
            self._die(slot, -9)

    # --- inside ---

    def _run_next(self, slot: deque[Task]) -> None:
        if not slot or slot[0].started_at is not None:
            return
        task = self.begin(slot[0].job.id)
        if task.started_at is not None and not task.cancelled:
            self._later(self._run_handler, task)

    def _run_handler(self, task: Task) -> None:
        if self._slot_of(task.job.id) is None:
            return  # cancelled or timed out before its turn
        with reporting_to(task.job.id, self):
            outcome = run_handler(task.handler_ref, task.job.id, task.job.payload, self._max_result_bytes)
        # One loop turn later, so that progress reported by the handler is recorded before the end.
        # bytes(): the in-process result is the encoder's bytearray; the store holds immutable bytes.
        end = TaskEnd(outcome.kind, outcome.value, outcome.detail, result=bytes(outcome.result))
        self._later(self._end, task.job.id, end)

    def put(self, item: tuple[str, int, str | None]) -> None:
        """The progress sink of handlers run inline."""
        self.progress(*item)

    def _end(self, job_id: str, end: TaskEnd) -> None:
        slot = self._require_slot(job_id)
        task = slot[0]
        if task.job.id != job_id or task.started_at is None:
            raise ValueError(f"{job_id} is not running")
        slot.popleft()
        if task.timer is not None:
            task.timer.cancel()
        assert self._listener is not None
        self._listener.task_ended(task, end)
        if self._autorun and slot:
            self._later(self._run_next, slot)
        self._listener.capacity_freed()

    def _die(self, slot: deque[Task], exitcode: int | None) -> None:
        assert self._listener is not None
        self.deaths += 1
        tasks = list(slot)
        slot.clear()
        for task in tasks:
            if task.timer is not None:
                task.timer.cancel()
            if task.started_at is None and not task.cancelled:
                self._listener.task_returned(task)
            elif not task.cancelled or task.kill_reason == "timeout":
                kind: EndKind = task.kill_reason if task.kill_reason in ("timeout", "memory") else "died"
                self._listener.task_ended(task, TaskEnd(kind, exitcode=exitcode))
        self._listener.capacity_freed()  # a replacement slot is ready at once

    def _slot_of(self, job_id: str) -> deque[Task] | None:
        return next((slot for slot in self._slots if any(t.job.id == job_id for t in slot)), None)

    def _require_slot(self, job_id: str) -> deque[Task]:
        slot = self._slot_of(job_id)
        if slot is None:
            raise ValueError(f"{job_id} is not held by this executor")
        return slot

    def _later(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon(callback, *args)
