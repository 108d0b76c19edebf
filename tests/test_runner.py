"""The runner's state machine, driven through the in-process executor: no processes, no HTTP, no sleeps.

Each test builds the real service, runner, memory store and recorder around an InProcessExecutor
and a fake clock, then decides exactly when each task starts, reports progress, ends or dies.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from jobs import report_progress
from jobs.direct import run_directly
from jobs.errors import ClientLimitReached, JobFailed, JobNotFound, ShuttingDown, WorkerCrashed
from jobs.estimates import DurationEstimator
from jobs.model import Job, JobStatus
from jobs.notify import ChangeNotifier
from jobs.pool import InProcessExecutor, NullExecutor
from jobs.registry import EndpointRegistry
from jobs.runner import JobRunner
from jobs.service import JobService
from jobs.settings import EndpointSettings
from jobs.store.memory import MemoryJobStore
from tests.conftest import make_settings

# The longest any test waits for an event; hit only when the machine under test is broken.
DEADLINE_SECONDS = 5.0
TIMEOUT_SECONDS = 30.0
ENDPOINTS = (
    EndpointSettings("/echo", "tests.test_runner:echo", timeout_seconds=TIMEOUT_SECONDS),
    EndpointSettings("/explode", "tests.test_runner:explode", timeout_seconds=TIMEOUT_SECONDS),
    EndpointSettings("/halfway", "tests.test_runner:halfway", timeout_seconds=TIMEOUT_SECONDS),
    EndpointSettings("/pretend", "tests.test_runner:pretend_crash", timeout_seconds=TIMEOUT_SECONDS),
    EndpointSettings("/brief", "tests.test_runner:echo", timeout_seconds=0.2),
)


def echo(payload: dict[str, Any]) -> dict[str, Any]:
    """A handler: returns its payload."""
    return {"echo": payload}


def explode(payload: dict[str, Any]) -> dict[str, Any]:
    """A handler that always raises."""
    raise ValueError("the payload makes no sense")


def pretend_crash(payload: dict[str, Any]) -> dict[str, Any]:
    """A handler whose error reads like a worker's death, and is not one."""
    raise RuntimeError("worker process died")


def halfway(payload: dict[str, Any]) -> dict[str, Any]:
    """A handler that reports progress before it returns."""
    report_progress(50, "half done")
    return {"done": True}


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Machine:
    """The job system of one instance, minus HTTP and processes."""

    service: JobService
    runner: JobRunner
    executor: InProcessExecutor
    store: MemoryJobStore
    notifier: ChangeNotifier
    estimator: DurationEstimator
    clock: FakeClock

    async def start(self, endpoint: str = "/echo", client: str = "alice", payload: Any = None) -> str:
        """Queue a job the way the HTTP layer does; returns its id."""
        started = await self.service.start(endpoint, payload if payload is not None else {}, client, None)
        return started.job.id

    async def until(self, job_id: str, predicate: Callable[[Job], bool]) -> Job:
        """The job once `predicate` holds for it, waiting on the runner's change notifications."""
        async with asyncio.timeout(DEADLINE_SECONDS):
            while True:
                job = await self.store.get(job_id)
                assert job is not None, f"{job_id} disappeared"
                if predicate(job):
                    return job
                await self.notifier.wait(job_id, DEADLINE_SECONDS)

    async def running(self, job_id: str) -> Job:
        """Start the job's task in the executor and wait until the store says it runs."""
        await self.executor.received(job_id)
        self.executor.begin(job_id)
        return await self.until(job_id, lambda job: job.status is JobStatus.RUNNING)

    async def finished(self, job_id: str) -> Job:
        """The job once it reached a final status."""
        return await self.until(job_id, lambda job: not job.status.is_active)


MachineFactory = Callable[..., Awaitable[Machine]]


@pytest.fixture
async def build() -> AsyncIterator[MachineFactory]:
    """Build machines: `size` slots of `depth`, handlers run by the test unless `autorun`."""
    machines: list[Machine] = []

    async def factory(
        *, size: int = 1, depth: int = 1, autorun: bool = False, null: bool = False, **jobs: Any
    ) -> Machine:
        settings = make_settings(workers=size, jobs=jobs, endpoints=ENDPOINTS)
        clock, store, notifier, estimator = FakeClock(), MemoryJobStore(), ChangeNotifier(), DurationEstimator()
        registry = EndpointRegistry(settings)
        executor = InProcessExecutor(size, autorun=autorun, depth=depth, clock=clock)
        runner = JobRunner(store, NullExecutor() if null else executor, registry, estimator, notifier, clock)
        service = JobService(settings, store, runner, registry, estimator, notifier, clock)
        await runner.start()
        machine = Machine(service, runner, executor, store, notifier, estimator, clock)
        machines.append(machine)
        return machine

    yield factory
    for machine in machines:
        await machine.runner.drain(0)
        await machine.runner.close()
        await machine.store.close()


async def test_jobs_reach_the_executor_in_the_order_they_were_queued(build: MachineFactory) -> None:
    machine = await build(size=1)
    first, second, third = [await machine.start(payload={"n": n}) for n in range(3)]
    assert machine.executor.sent == [first]  # one slot: the others wait in the store
    for job_id in (first, second):
        await machine.running(job_id)
        machine.executor.complete(job_id, {"ok": True})
        await machine.finished(job_id)
    await machine.executor.received(third)
    assert machine.executor.sent == [first, second, third]


async def test_a_completed_job_keeps_its_result_and_counts_its_duration(build: MachineFactory) -> None:
    machine = await build()
    job_id = await machine.start()
    await machine.running(job_id)
    machine.clock.advance(2.5)
    machine.executor.complete(job_id, {"rows": 3})
    job = await machine.finished(job_id)
    assert (job.status, job.progress, job.result_json) == (JobStatus.COMPLETED, 100, b'{"rows":3}')
    assert job.duration_seconds == 2.5
    percentiles = machine.estimator.percentiles("/echo")
    assert percentiles is not None and percentiles["p50"] == 2.5


async def test_a_poll_right_after_the_worker_s_report_answers_the_outcome(build: MachineFactory) -> None:
    """The outcome is written by a task of its own, which starts a loop turn after the report."""
    machine = await build()
    job_id = await machine.start()
    await machine.running(job_id)
    machine.executor.complete(job_id, {"rows": 3})
    assert (await machine.service.status(job_id, "alice")).status is JobStatus.COMPLETED


async def test_handlers_run_inline_with_autorun(build: MachineFactory) -> None:
    machine = await build(autorun=True)
    ok, failing = await machine.start(payload={"a": 1}), await machine.start("/explode")
    assert (await machine.finished(ok)).result_json == b'{"echo":{"a":1}}'
    failed = await machine.finished(failing)
    assert failed.status is JobStatus.FAILED
    assert failed.message == "Job failed: the payload makes no sense"


async def test_progress_of_a_running_job_is_recorded_and_never_goes_back(build: MachineFactory) -> None:
    machine = await build()
    job_id = await machine.start()
    await machine.running(job_id)
    machine.executor.progress(job_id, 40, "reading sheets")
    job = await machine.until(job_id, lambda job: job.progress == 40)
    assert job.message == "reading sheets"
    machine.executor.progress(job_id, 10, None)
    machine.executor.progress(job_id, 70, None)
    job = await machine.until(job_id, lambda job: job.progress == 70)
    assert job.message == "reading sheets"


async def test_progress_reported_before_the_start_was_recorded_is_applied_once_running(
    build: MachineFactory,
) -> None:
    machine = await build()
    job_id = await machine.start()
    await machine.executor.received(job_id)
    machine.executor.progress(job_id, 30, "early")  # overtakes the "started" message, as it can in the pool
    machine.executor.begin(job_id)
    job = await machine.until(job_id, lambda job: job.status is JobStatus.RUNNING and job.progress == 30)
    assert job.message == "early"


async def test_progress_reported_by_an_inline_handler_is_recorded_before_its_end(build: MachineFactory) -> None:
    machine = await build(autorun=True)
    seen: list[tuple[int, str | None]] = []
    machine.runner.on_progress.append(lambda job: seen.append((job.progress, job.message)))
    job = await machine.finished(await machine.start("/halfway"))
    assert job.status is JobStatus.COMPLETED
    assert seen == [(50, "half done")]


async def test_a_job_past_its_time_limit_expires_and_its_slot_is_replaced(build: MachineFactory) -> None:
    machine = await build(size=1)
    job_id, waiting = await machine.start(), await machine.start()
    await machine.running(job_id)
    machine.executor.time_out(job_id)
    job = await machine.finished(job_id)
    assert job.status is JobStatus.EXPIRED
    assert "ran longer than its 30 s time limit" in job.message
    assert job.error == "timeout"
    await machine.executor.received(waiting)  # the freed slot takes the next job


async def test_the_executor_timer_expires_a_job_that_runs_too_long(build: MachineFactory) -> None:
    machine = await build()
    job_id = await machine.start("/brief")  # a 0.2 s limit; the handler never returns on its own
    await machine.running(job_id)
    job = await machine.finished(job_id)
    assert (job.status, job.error) == (JobStatus.EXPIRED, "timeout")


async def test_a_job_that_waited_past_its_time_limit_expires_without_running(build: MachineFactory) -> None:
    machine = await build(size=1)
    busy, brief = await machine.start(), await machine.start("/brief")
    await machine.running(busy)
    machine.clock.advance(1.0)  # past /brief's 0.2 s limit while it waits for the only slot
    machine.executor.complete(busy, {})
    job = await machine.finished(brief)
    assert (job.status, job.error, job.started_at) == (JobStatus.EXPIRED, "expired while pending", None)
    assert brief not in machine.executor.sent


async def test_cancelling_a_running_job_stops_its_slot_and_forgets_it(build: MachineFactory) -> None:
    machine = await build(size=1)
    job_id, waiting = await machine.start(), await machine.start()
    await machine.running(job_id)
    deleted = await machine.service.delete(job_id)
    assert deleted.status is JobStatus.RUNNING
    assert machine.executor.deaths == 1
    assert await machine.store.get(job_id) is None
    assert not machine.runner.holds(job_id)
    await machine.executor.received(waiting)


async def test_cancelling_a_pending_job_takes_it_out_of_the_queue(build: MachineFactory) -> None:
    machine = await build(size=1)
    busy, pending, after = await machine.start(), await machine.start(), await machine.start()
    await machine.service.delete(pending)
    await machine.running(busy)
    machine.executor.complete(busy, {})
    await machine.executor.received(after)
    assert pending not in machine.executor.sent
    assert machine.executor.deaths == 0


async def test_a_crashed_worker_fails_its_running_job_with_the_signal(build: MachineFactory) -> None:
    machine = await build(size=1)
    job_id, waiting = await machine.start(), await machine.start()
    await machine.running(job_id)
    machine.executor.crash(job_id, exitcode=-9)
    job = await machine.finished(job_id)
    assert (job.status, job.error) == (JobStatus.FAILED, "worker process died")
    assert job.message == (
        "Job failed: the worker process died from SIGKILL sent by something other than docjobs (an operator,"
        " or the system's out-of-memory killer); the worker's own memory limit did not fire"
    )
    await machine.executor.received(waiting)


async def test_a_worker_death_of_unknown_status_says_so(build: MachineFactory) -> None:
    machine = await build(size=1)
    job_id = await machine.start()
    await machine.running(job_id)
    machine.executor.crash(job_id, exitcode=None)
    job = await machine.finished(job_id)
    assert job.message == "Job failed: the worker process died; its exit status is unknown"


async def test_a_job_queued_behind_a_crashed_one_runs_again_first(build: MachineFactory) -> None:
    machine = await build(size=1, depth=2)
    for _ in range(3):
        machine.estimator.record("/echo", 0.001)  # quick: a job may wait inside the busy slot behind it
    crashing = await machine.start()
    await machine.running(crashing)
    behind = await machine.start()
    assert machine.executor.sent == [crashing, behind]  # both in the one slot
    machine.executor.crash(crashing)
    await machine.executor.received(behind, times=2)  # handed over again, to the replacement slot
    await machine.running(behind)
    machine.executor.complete(behind, {"second": "try"})
    job = await machine.finished(behind)
    assert (job.status, job.retry_count) == (JobStatus.COMPLETED, 0)


async def test_a_client_at_its_limit_is_refused_until_one_of_its_jobs_ends(build: MachineFactory) -> None:
    machine = await build(size=1, per_client_limit=2)
    first = await machine.start(client="alice")
    await machine.start(client="alice")
    with pytest.raises(ClientLimitReached):
        await machine.start(client="alice")
    await machine.start(client="bob")  # the limit is per client
    await machine.running(first)
    machine.executor.complete(first, {})
    await machine.finished(first)
    await machine.start(client="alice")


async def test_shutdown_fails_running_and_waiting_jobs_and_refuses_new_ones(build: MachineFactory) -> None:
    machine = await build(size=1)
    running, waiting = await machine.start(), await machine.start()
    await machine.running(running)
    await machine.service.drain(0)
    stopped, never_started = await machine.finished(running), await machine.finished(waiting)
    assert stopped.message == "Job failed: the service shut down before the job finished"
    assert never_started.message == "Job failed: the service shut down before the job started"
    assert machine.executor.deaths == 1
    with pytest.raises(ShuttingDown):
        await machine.start()


async def test_shutdown_lets_a_job_that_ends_within_the_grace_complete(build: MachineFactory) -> None:
    machine = await build(size=1)
    job_id = await machine.start()
    await machine.running(job_id)
    drain = asyncio.create_task(machine.service.drain(DEADLINE_SECONDS))
    machine.executor.complete(job_id, {"in": "time"})
    await drain  # returns as soon as the executor is idle, not after the grace
    job = await machine.finished(job_id)
    assert job.status is JobStatus.COMPLETED
    assert machine.executor.deaths == 0


async def test_a_direct_call_answers_with_the_result_and_keeps_no_record(build: MachineFactory) -> None:
    machine = await build(autorun=True)
    job = await run_directly(machine.service, "/echo", {"x": 1}, "alice", None)
    assert job.result_json == b'{"echo":{"x":1}}'
    assert await machine.store.list_jobs() == []


async def test_a_direct_call_whose_worker_dies_is_a_crash_not_a_failure(build: MachineFactory) -> None:
    machine = await build()
    call = asyncio.create_task(run_directly(machine.service, "/echo", {}, "alice", None))
    async with asyncio.timeout(DEADLINE_SECONDS):
        job_id = await machine.executor.nth_sent(1)
    await machine.running(job_id)
    machine.executor.crash(job_id)
    with pytest.raises(WorkerCrashed):
        await call


async def test_a_handler_error_that_reads_like_a_crash_is_still_a_failure(build: MachineFactory) -> None:
    machine = await build(autorun=True)
    with pytest.raises(JobFailed) as raised:
        await run_directly(machine.service, "/pretend", {}, "alice", None)
    assert not isinstance(raised.value, WorkerCrashed)
    assert raised.value.message == "Job failed: worker process died"


async def test_busy_workers_counts_each_running_slot(build: MachineFactory) -> None:
    machine = await build(size=2)
    first, second = await machine.start(), await machine.start()
    assert machine.service.busy_workers == 0
    await machine.running(first)
    await machine.running(second)
    assert (machine.service.busy_workers, machine.service.free_workers()) == (2, 0)


async def test_an_api_only_instance_queues_jobs_and_runs_none(build: MachineFactory) -> None:
    machine = await build(null=True)
    job_id = await machine.start()
    assert (machine.service.total_workers, machine.service.worker_pids()) == (0, [])
    assert not machine.runner.runs_jobs and not machine.runner.holds(job_id)
    assert await machine.service.readiness_problems() == []
    job = await machine.store.get(job_id)
    assert job is not None and job.status is JobStatus.PENDING


async def test_a_copy_that_missed_a_delivery_past_its_grace_serves_nothing(
    build: MachineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = await build(autorun=True, result_grace_seconds=60)
    job_id = await machine.start()
    await machine.finished(job_id)
    first, _ = await machine.service.collect(job_id, "alice")
    assert first.delivered_at == machine.clock.now
    stale = dataclasses.replace(first, delivered_at=None)  # a status copy from before that delivery

    async def stale_status(wanted: str) -> Job | None:
        return stale if wanted == job_id else None

    monkeypatch.setattr(machine.store, "get_status", stale_status)
    machine.clock.advance(61)
    with pytest.raises(JobNotFound):
        await machine.service.collect(job_id, "alice")
    assert await machine.store.get(job_id) is None, "its grace was over: removed, as a fresh read would have"
