"""Moves jobs from the pending queue into worker processes and records how they end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import time
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from typing import Any

from jobs.background import BackgroundWrites
from jobs.claims import ClaimsInFlight
from jobs.estimates import DurationEstimator, may_wait_behind
from jobs.logs import log_event
from jobs.model import Clock, Job
from jobs.notify import ChangeNotifier
from jobs.outcomes import FinalState, TaskEnd, expired_while_waiting, final_state_of, not_transferable, shut_down
from jobs.pool.executor import Executor, Task
from jobs.recorder import JobRecorder, TaskStart
from jobs.registry import EndpointRegistry
from jobs.store import Admission, JobStore

log = logging.getLogger("docjobs.runner")

# Outcome writes retry for as long as the store is down, except at shutdown: a stopping instance must
# exit (within its grace plus this), and with a shared store its lapsed lease hands the jobs to another
# instance. A Redis blip of a second or two is still ridden out.
SHUTDOWN_WRITES_SECONDS = 3.0
# How long a shared store's "running" write waits for the job's end (see _mark_running).
RUNNING_WRITE_DELAY_SECONDS = 0.002


class JobRunner:
    """Feeds pending jobs to the executor and turns what it reports into job states."""

    def __init__(
        self,
        store: JobStore,
        executor: Executor,
        registry: EndpointRegistry,
        estimator: DurationEstimator,
        notifier: ChangeNotifier,
        clock: Clock = time.time,
        claim_check_seconds: float | None = None,
    ) -> None:
        self._store = store
        self._executor = executor
        self._registry = registry
        self._estimator = estimator
        self._clock = clock
        self._notifier = notifier
        self._record = JobRecorder(store, estimator, notifier, clock)
        self._ready: OrderedDict[str, Job] = OrderedDict()  # claimed from the store, not yet sent
        # On a shared store, a ready job claimed longer ago than this is sent only once the store confirms
        # the claim: this instance may have stalled past its lease meanwhile, and another taken it over.
        self._claim_check = claim_check_seconds
        # Jobs held here (ready or in a worker): when their claim was made, or last confirmed.
        self._claimed_at: dict[str, float] = {}
        self._confirming: asyncio.Task[None] | None = None
        self._tasks: dict[str, Task] = {}  # in a worker, waiting or running
        self._early_progress: dict[str, tuple[int, str | None]] = {}
        self._start_writes: dict[str, asyncio.Task[None]] = {}
        self._starts_not_begun: set[str] = set()  # "running" writes spawned whose task has not run yet
        self._finishing: set[str] = set()  # outcome writes in flight
        self._wakeup = asyncio.Event()
        self._filling = asyncio.Lock()  # one dispatcher fill at a time
        self._claims = ClaimsInFlight()  # on a shared store, starts claim for idle workers concurrently
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._dispatching = True
        self._background = BackgroundWrites(log)
        self._idle = asyncio.Event()  # set whenever no task is in the executor
        self._idle.set()
        # Observers (metrics, dashboards): called on the event loop, must not block.
        self.on_started = self._record.on_started
        self.on_finished = self._record.on_finished
        self.on_progress = self._record.on_progress

    @property
    def busy_workers(self) -> int:
        """Worker processes running a job right now."""
        # One running task per worker; tasks run in this process (no pid) count one each.
        started = (t for t in self._tasks.values() if t.started_at is not None)
        return len({t.worker_pid if t.worker_pid is not None else id(t) for t in started})

    @property
    def total_workers(self) -> int:
        """Tasks the executor runs at once (worker processes)."""
        return self._executor.size

    def worker_pids(self) -> list[int]:
        """PIDs of the live worker processes."""
        return self._executor.process_ids

    @property
    def runs_jobs(self) -> bool:
        """False on an API-only instance, whose executor runs nothing."""
        return self._executor.runs_jobs

    async def start(self) -> None:
        """Start the executor and begin dispatching; call from the running event loop."""
        self._loop = asyncio.get_running_loop()
        await self._executor.start(self, self._progress_from_thread)
        if not self._executor.runs_jobs:
            return  # nothing to dispatch to: the shared queue is left to the worker instances
        self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="docjobs-dispatch")
        self.wake()

    def wake(self) -> None:
        """A job was queued or a worker freed up: look at the queue again."""
        self._wakeup.set()

    async def job_queued(self) -> None:
        """A job was just added here: hand it to an idle worker before the caller answers.

        Waking the dispatcher would cost an event-loop turn, and under load a turn is long enough
        for the client's first status poll to find a no-op job still pending, which costs it a
        second poll. The in-memory store answers without yielding, so this cannot hold up a
        request. A shared store's claim costs the answer one round trip, but only on an instance
        with an idle worker (a busy or API-only one returns before claiming), and it saves the
        dispatcher's turn, which under load is many polls long (bench/bench_redis.py measures it).
        """
        if self._filling.locked():
            self.wake()
            return
        try:
            await self._fill_workers()
        except Exception:
            self.wake()  # the dispatcher retries with its backoff and logs why

    async def add(self, job: Job, admission: Admission) -> Job:
        """Add a job to the store and hand it, or older queued ones, to idle workers before the caller answers.

        In memory a claim is a call: the add, then `job_queued`. On a shared store the add claims for
        this instance's idle workers in the same round trip: on Redis a start on an instance with idle
        workers was three round trips before its answer (the add, the claim, and a claim that found the
        queue empty). The claims are the oldest queued jobs (this one when nothing older waits). Several
        starts claim at once, each for the room the others have not reserved (jobs/claims.py). A busy
        instance only adds (other instances learn of the job from the add's announcement). Returns what
        `JobStore.add` returns: another job for a replayed start, which is not dispatched again.
        """
        if not self._store.shared:
            stored = await self._store.add(job, admission)
            if stored is job:
                await self.job_queued()
            return stored
        room = self._room()
        if room <= 0:
            stored = await self._store.add(job, admission)
            if self._claims.reserved:
                self.wake()  # the claims that took the room may come back short: look at the queue after them
            return stored
        # Claims in flight reserve their room (`_room` counts it): no await between the check and here.
        with self._claims.reserve(room):
            now = self._clock()
            stored, claimed = await self._store.add_and_claim(job, admission, now, room)
            await self._take_claimed(claimed, now)
            self._send_ready()
        if len(claimed) >= room:
            self.wake()  # the queue may hold more than the idle workers took
        return stored

    async def _dispatch_forever(self) -> None:
        backoff = 0.0
        while True:
            # A shared queue also fills from other instances: look at it at least once a second even
            # if a "queued" event was lost while the store was unreachable.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0 if self._store.shared else None):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._fill_workers()
                backoff = 0.0
            except Exception as exc:
                backoff = min(10.0, backoff * 2 or 0.5)
                log.warning("dispatch failed (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                self.wake()

    async def _fill_workers(self) -> None:
        async with self._filling:  # one filler at a time: the claim and the send are not atomic
            while self._dispatching:
                self._send_ready()
                room = self._room()
                if room <= 0:
                    return  # every worker has work; the pool calls back when one frees up
                now = self._clock()
                if self._store.shared:
                    with self._claims.reserve(room):  # held until the claimed jobs are in hand
                        claimed = await self._store.claim_many(now, room)
                        await self._take_claimed(claimed, now)
                else:  # in memory a claim is a call: no batch to save, one coroutine less per job
                    job = await self._store.claim_next(now)
                    claimed = [] if job is None else [job]
                    await self._take_claimed(claimed, now)
                if not claimed:
                    return

    async def _take_claimed(self, claimed: list[Job], now: float) -> None:
        """Jobs just claimed from the store: ready to be sent, unless they waited past their limit."""
        for job in claimed:
            if job.id in self._tasks:
                # Claimed again while an earlier attempt still runs here (this instance stalled
                # past its lease and the job was requeued): that attempt is no longer ours.
                self.cancel(job.id)
            if now - job.created_at >= job.timeout_seconds:
                await self.finish(job, expired_while_waiting(job))
                continue
            self._ready[job.id] = job
            self._claimed_at[job.id] = now

    def _room(self) -> int:
        """How many jobs to claim now: none while one waits to be sent; with a shared queue, one per idle
        worker, or up to the executor's capacity when everything here is expected to end within moments,
        less what the claims in flight will bring."""
        if self._ready:
            return 0
        if self._store.shared:
            if self._claims.held_back:
                return 0
            coming = self._claims.reserved
            idle = self._executor.size - len(self._tasks) - coming
            if idle <= 0 and not self._quick_in_hand():
                return 0  # leave the shared queue to instances with an idle worker
            return idle if idle > 0 else self._executor.capacity - len(self._tasks) - coming
        # In memory a claim is a function call: one at a time, each sent before the next is taken.
        return min(1, self._executor.capacity - len(self._tasks))

    def _send_ready(self) -> None:
        while self._ready and self._dispatching:
            job_id, job = next(iter(self._ready.items()))
            if self._claim_unconfirmed(job_id):
                self._confirm_claims()
                return
            if self._clock() - job.created_at >= job.timeout_seconds:
                del self._ready[job_id]
                self._spawn(self.finish(job, expired_while_waiting(job)))
                continue
            task = Task(job, self._registry.get(job.endpoint).handler_ref)
            try:
                if not self._executor.send(task, self._may_queue_behind):
                    return
            except (pickle.PicklingError, RecursionError, TypeError, ValueError) as exc:
                # One job that cannot be handed over must not hold up the queue behind it.
                del self._ready[job_id]
                self._spawn(self.finish(job, not_transferable(exc)))
                continue
            del self._ready[job_id]
            self._tasks[job_id] = task
            self._idle.clear()

    def _claim_unconfirmed(self, job_id: str) -> bool:
        if self._claim_check is None:
            return False
        return self._clock() - self._claimed_at.get(job_id, self._clock()) > self._claim_check

    def _confirm_claims(self) -> None:
        if self._confirming is None:
            self._confirming = self._spawn(self._confirm_stale_claims())

    async def _confirm_stale_claims(self) -> None:
        """Ask the store which of the ready jobs claimed long ago are still ours; drop the others."""
        try:
            stale = [job_id for job_id in self._ready if self._claim_unconfirmed(job_id)]
            confirmed_at = self._clock()
            lost = set(await self._store.lost_claims(stale))
            for job_id in stale:
                if job_id in lost:
                    self._ready.pop(job_id, None)
                    self._claimed_at.pop(job_id, None)
                    log_event("job.claim_lost", job_id=job_id, level=logging.WARNING)
                elif job_id in self._ready:
                    self._claimed_at[job_id] = confirmed_at
        finally:
            self._confirming = None
        self._send_ready()

    def _quick_in_hand(self) -> bool:
        # Every worker is busy, but everything they hold is expected to end within moments: a job taken
        # now waits at most QUEUE_BEHIND_MAX_SECONDS here, and saves a claim round trip and a dispatcher
        # turn when a worker frees up (measured: bench/bench_redis.py). Taken over every task here,
        # the check is stricter than the executor's per-worker one, which then accepts the job.
        return self._may_queue_behind(list(self._tasks.values()))

    def _may_queue_behind(self, ahead: Sequence[Task]) -> bool:
        return may_wait_behind(ahead, self._typical_seconds, self._clock())

    def _typical_seconds(self, endpoint: str) -> float | None:
        typical = self._estimator.percentiles(endpoint)
        return None if typical is None else typical["p90"]

    # --- what the pool reports (on the event loop) ---

    def task_started(self, task: Task) -> None:
        """A worker began a job: it is running from now on, and its time limit counts."""
        write = self._spawn(self._mark_running(task))
        if self._store.shared:  # see _finish_after_start
            self._start_writes[task.job.id] = write
            self._starts_not_begun.add(task.job.id)
            write.add_done_callback(lambda _: self._start_writes.pop(task.job.id, None))

    async def _mark_running(self, task: Task) -> None:
        if self._store.shared:
            # A quick job's end follows its start within a millisecond or so, often in a later pipe read:
            # waiting this long before the "running" write lets one `finish` record both (a script and a
            # round trip less per job, and the end is stored a round trip sooner). The job's start time
            # and its time limit come from the worker's message, not from this write.
            await asyncio.sleep(RUNNING_WRITE_DELAY_SECONDS)
        self._starts_not_begun.discard(task.job.id)
        job = await self._record.running(task.job.id, task.started_at or self._clock(), task.worker_pid)
        if job is None:
            return
        task.marked_running = True
        early = self._early_progress.pop(job.id, None)
        if early is not None:
            await self._record_progress(job.id, *early)
        await self._record.changed(job.id)

    def task_ended(self, task: Task, end: TaskEnd) -> None:
        """A job's handler returned, raised, timed out, or its process died."""
        self._forget(task.job.id)
        self._early_progress.pop(task.job.id, None)
        final = final_state_of(task.job, end)
        # The outcome is known from here on, and its write begins in a task of its own, a loop turn or
        # more later under load: a status poll in between waits for it (`finishing`) instead of answering
        # "pending" and costing the client another poll. `finish` takes the mark off, however it ends.
        self._finishing.add(task.job.id)
        if task.job.id in self._starts_not_begun and task.started_at is not None:
            # A quick job: its end came in the same read as its start, before the "running" write even
            # began. One write records both (a round trip, and on Redis a script, less per job).
            self._starts_not_begun.discard(task.job.id)
            self._start_writes[task.job.id].cancel()  # not begun: cancelling it stops it before its first line
            self._spawn(self.finish(task.job, final, TaskStart(task.started_at, task.worker_pid)))
        elif task.job.id in self._start_writes:
            self._spawn(self._finish_after_start(task.job, final))
        else:
            self._spawn(self.finish(task.job, final))

    async def _finish_after_start(self, job: Job, final: FinalState) -> None:
        # A shared store runs concurrent writes on separate connections, in no set order: the "running"
        # write must land before the final one, or the job would end without ever having started.
        started = self._start_writes.pop(job.id, None)
        if started is not None:
            await asyncio.wait([started])
        await self.finish(job, final)

    def task_returned(self, task: Task) -> None:
        """A job that never started came back from a dead worker: it goes first in line again."""
        self._forget(task.job.id)
        self._ready[task.job.id] = task.job
        self._ready.move_to_end(task.job.id, last=False)

    def capacity_freed(self) -> None:
        """A worker can take more: hand it the next ready job now, then refill from the store."""
        self._send_ready()
        self.wake()

    # --- progress (from the worker pipes) ---

    def _progress_from_thread(self, job_id: str, percent: int, message: str | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_progress, job_id, percent, message)

    def _on_progress(self, job_id: str, percent: int, message: str | None) -> None:
        self._spawn(self._record_progress(job_id, percent, message))

    async def _record_progress(self, job_id: str, percent: int, message: str | None) -> None:
        task = self._tasks.get(job_id)
        if task is not None and not task.marked_running:
            # Progress can arrive before the store has marked the job running (on a shared store the
            # "running" write waits for a quick job's end): keep the latest report and apply it once
            # the job is marked. Decided before any write: a refused write whose reply came back after
            # the "running" one had landed would otherwise drop the report.
            self._early_progress[job_id] = (percent, message)
            return
        await self._record.progress(job_id, percent, message)  # refused: a late event of an ended job

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._background.spawn(coroutine)

    # --- endings ---

    async def finish(self, job: Job, final: FinalState, start: TaskStart | None = None) -> None:
        """Record a job's final state, log it, and wake whoever waits for it."""
        self._ready.pop(job.id, None)
        self._claimed_at.pop(job.id, None)
        self._finishing.add(job.id)
        try:
            await self._record.finish(job, final, start)
        finally:
            self._finishing.discard(job.id)
            self._notifier.notify(job.id)  # a status poll waiting for this write (`finishing`), refused or not

    def finishing(self, job_id: str) -> bool:
        """Whether this instance has the job's outcome and is writing it (it wakes the notifier when done)."""
        return job_id in self._finishing

    def _forget(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        if not self._tasks:
            self._idle.set()

    def held_job_ids(self) -> list[str]:
        """Jobs this instance has in its workers (running or waiting there)."""
        return list(self._tasks)

    async def release_stray_claims(self) -> list[str]:
        """Requeue the store's claims of this instance that it knows nothing of (a claim reply was lost)."""
        async with self._claims.quiet():  # no claim is in flight while the known jobs are listed
            known = {*self._ready, *self._tasks, *self._start_writes, *self._finishing}
            released = await self._store.release_stray_claims(sorted(known))
        self.wake()  # starts held back meanwhile only added their jobs
        return released

    def cancel(self, job_id: str) -> bool:
        """Take a job out of the runner; True when its running worker process was killed."""
        self._claimed_at.pop(job_id, None)
        if self._ready.pop(job_id, None) is not None:
            return False
        task = self._tasks.get(job_id)
        if task is None:
            return False
        self._forget(job_id)
        return self._executor.cancel(task)

    async def drain(self, grace_seconds: float) -> None:
        """Shutdown: start nothing new, let running jobs finish for a while, then stop them."""
        self._dispatching = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self._idle.wait()
        try:
            async with asyncio.timeout(SHUTDOWN_WRITES_SECONDS):
                await self._record_shutdown()
        except TimeoutError:
            log.warning("the store did not take the outcomes of stopped jobs; the lease rules recover them")
            for write in self._background.tasks:
                write.cancel()
        if self._dispatcher is not None:
            self._dispatcher.cancel()

    async def _record_shutdown(self) -> None:
        stopped, not_started = shut_down(started=True), shut_down(started=False)
        for job_id, task in list(self._tasks.items()):
            self.cancel(job_id)
            await self.finish(task.job, stopped if task.started_at is not None else not_started)
        for ready in list(self._ready.values()):
            await self.finish(ready, not_started)
        # A shared queue belongs to every instance: the others will run what waits in it.
        while not self._store.shared and (queued := await self._store.claim_next(self._clock())) is not None:
            await self.finish(queued, not_started)
        if self._background.tasks:
            await asyncio.gather(*self._background.tasks, return_exceptions=True)

    def holds(self, job_id: str) -> bool:
        """True when this instance has the job in hand (waiting to be sent, or in a worker)."""
        return job_id in self._ready or job_id in self._tasks

    async def close(self) -> None:
        """Stop the executor (the pool's processes)."""
        await self._executor.close()
