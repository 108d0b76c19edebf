"""The runner's round trips on a shared store: a real redis-server, the in-process executor, a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.errors import JobNotFound
from jobs.estimates import DurationEstimator
from jobs.model import Job, JobStatus
from jobs.notify import ChangeNotifier
from jobs.pool import InProcessExecutor
from jobs.registry import EndpointRegistry
from jobs.runner import JobRunner
from jobs.service import JobService
from jobs.store.redis import RedisJobStore
from tests.conftest import make_settings
from tests.store.redis_server import RedisServer, running_redis
from tests.test_runner import DEADLINE_SECONDS, ENDPOINTS, FakeClock
from tests.waiting import wait_until_async


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server for the test."""
    with running_redis(tmp_path) as server:
        yield server


class Instance:
    """One instance's job system on the shared store, minus HTTP and processes."""

    def __init__(self, store: RedisJobStore, size: int, claim_check_seconds: float | None = None) -> None:
        settings = make_settings(workers=size, endpoints=ENDPOINTS)
        self.clock, self.notifier, estimator = FakeClock(), ChangeNotifier(), DurationEstimator()
        self.store = store
        registry = EndpointRegistry(settings)
        self.executor = InProcessExecutor(size, autorun=False, clock=self.clock)
        self.runner = JobRunner(
            store,
            self.executor,
            registry,
            estimator,
            self.notifier,
            self.clock,
            claim_check_seconds=claim_check_seconds,
        )
        self.service = JobService(settings, store, self.runner, registry, estimator, self.notifier, self.clock)
        self.started: list[Job] = []
        self.runner.on_started.append(self.started.append)

    async def finished(self, job_id: str) -> Job:
        """The job once it reached a final status."""
        async with asyncio.timeout(DEADLINE_SECONDS):
            while True:
                job = await self.store.get(job_id)
                assert job is not None
                if not job.status.is_active:
                    return job
                await self.notifier.wait(job_id, DEADLINE_SECONDS)


def first_look_over(instance: Instance) -> bool:
    """The dispatcher's look at the queue when the runner starts is over (it clears the wake-up, then
    claims under the lock, with no await in between): a claim it makes could not race the test's."""
    runner = instance.runner
    return not runner._wakeup.is_set() and not runner._filling.locked()


@contextlib.asynccontextmanager
async def running_instance(
    redis: RedisServer, claim_check_seconds: float | None = None, size: int = 1
) -> AsyncIterator[Instance]:
    """An instance with `size` worker slots on a fresh key prefix, its runner started, then stopped."""
    store = await RedisJobStore.connect(
        redis.url,
        instance_id="instance-1",
        retention_seconds=600.0,
        grace_seconds=60.0,
        prefix=f"test-{uuid.uuid4().hex[:12]}",
    )
    built = Instance(store, size=size, claim_check_seconds=claim_check_seconds)
    await built.runner.start()
    try:
        await wait_until_async(lambda: first_look_over(built), DEADLINE_SECONDS, "the dispatcher's first look")
        yield built
    finally:
        await built.runner.drain(0)
        await built.runner.close()
        await store.close()


@pytest.fixture
async def instance(redis: RedisServer) -> AsyncIterator[Instance]:
    """An instance with one worker slot on a fresh key prefix."""
    async with running_instance(redis) as built:
        yield built


async def test_a_start_hands_its_job_to_an_idle_worker_in_the_adds_own_round_trip(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims: list[int] = []
    claim_many = instance.store.claim_many

    async def counted(now: float, limit: int) -> list[Job]:
        claims.append(limit)
        return await claim_many(now, limit)

    monkeypatch.setattr(instance.store, "claim_many", counted)
    started = await instance.service.start("/echo", {}, "alice", None)
    assert instance.executor.sent == [started.job.id], "in a worker before the start answers"
    assert claims == [], "claimed by the add itself: no claim round trip, no empty one after it"


async def test_a_start_claims_for_a_worker_freed_while_the_dispatcher_s_claim_is_in_flight(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a claim's round trip is many loop turns long, and workers free up meanwhile. When
    claims went one at a time, a start during the dispatcher's claim only added its job, which then
    waited in the queue for the next claim (9 starts in 10 under the 32-client benchmark)."""
    async with running_instance(redis, size=2) as instance:
        running = (await instance.service.start("/echo", {}, "alice", None)).job.id
        instance.executor.begin(running)
        claim_many = instance.store.claim_many
        in_flight, reply_may_come = asyncio.Event(), asyncio.Event()

        async def held(now: float, limit: int) -> list[Job]:
            in_flight.set()
            await reply_may_come.wait()
            return await claim_many(now, limit)

        monkeypatch.setattr(instance.store, "claim_many", held)
        instance.runner.wake()  # the dispatcher claims for the idle worker
        await asyncio.wait_for(in_flight.wait(), DEADLINE_SECONDS)
        instance.executor.complete(running, {"success": True})  # the other worker frees up meanwhile
        await instance.finished(running)
        started = await asyncio.wait_for(instance.service.start("/echo", {}, "alice", None), DEADLINE_SECONDS)
        assert instance.executor.sent == [running, started.job.id], "in a worker before its start answers"
        reply_may_come.set()


async def test_a_sweep_for_stray_claims_waits_for_a_claim_whose_reply_is_on_its_way(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim that has landed in Redis but whose reply has not come back looks stray to the sweep; the
    sweep must neither requeue it (the job would run twice) nor let a new claim start meanwhile."""
    async with running_instance(redis) as instance:
        add_and_claim = instance.store.add_and_claim
        landed, reply_may_come = asyncio.Event(), asyncio.Event()

        async def slow_reply(job: Job, admission: Any, now: float, limit: int) -> tuple[Job, list[Job]]:
            reply = await add_and_claim(job, admission, now, limit)
            landed.set()
            await reply_may_come.wait()
            return reply

        monkeypatch.setattr(instance.store, "add_and_claim", slow_reply)
        start = asyncio.create_task(instance.service.start("/echo", {}, "alice", None))
        await asyncio.wait_for(landed.wait(), DEADLINE_SECONDS)
        sweep = asyncio.create_task(instance.runner.release_stray_claims())
        await wait_until_async(lambda: instance.runner._claims.held_back, DEADLINE_SECONDS, "the sweep to begin")
        assert not sweep.done(), "the sweep waits for the claim in flight"
        reply_may_come.set()
        job = (await asyncio.wait_for(start, DEADLINE_SECONDS)).job
        assert await asyncio.wait_for(sweep, DEADLINE_SECONDS) == []
        assert instance.executor.sent == [job.id]


async def test_a_busy_instance_only_adds_and_the_oldest_job_is_claimed_first(instance: Instance) -> None:
    first = (await instance.service.start("/echo", {}, "alice", None)).job.id
    second = (await instance.service.start("/echo", {}, "alice", None)).job.id  # the one worker is busy
    assert instance.executor.sent == [first]
    assert (await instance.store.get(second)) is not None
    instance.executor.begin(first)
    instance.executor.complete(first, {"ok": True})
    # The freed worker takes the queued one.
    await wait_until_async(lambda: instance.executor.sent == [first, second], DEADLINE_SECONDS, "the second job sent")


def running_writes(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the jobs the store is asked to mark running from now on."""
    marks: list[str] = []
    mark_running = instance.store.mark_running

    async def counted(job_id: str, now: float) -> Any:
        marks.append(job_id)
        return await mark_running(job_id, now)

    monkeypatch.setattr(instance.store, "mark_running", counted)
    return marks


async def test_a_job_that_ends_before_its_start_is_written_is_stored_in_one_write(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks = running_writes(instance, monkeypatch)
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    began = instance.clock.now
    instance.executor.begin(job_id)
    instance.clock.advance(0.5)
    instance.executor.complete(job_id, {"ok": True})  # in the same turn as its start
    done = await instance.finished(job_id)
    assert (done.status, done.started_at, done.duration_seconds) == (JobStatus.COMPLETED, began, 0.5)
    assert marks == [], "no separate 'running' write"
    assert [job.id for job in instance.started] == [job_id], "observers still see the start"
    assert (await instance.store.counts()).by_status == {"completed": 1}


async def test_a_job_that_ends_a_moment_after_its_start_is_still_stored_in_one_write(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks = running_writes(instance, monkeypatch)
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    # The wait stretched past anything this test takes, so that a loaded machine cannot outlast it.
    monkeypatch.setattr("jobs.runner.RUNNING_WRITE_DELAY_SECONDS", DEADLINE_SECONDS)
    instance.executor.begin(job_id)
    # Its end comes after a round trip: the start was handled in a read of its own, and its "running"
    # write, which used to begin on the next turn of the loop, is waiting.
    assert await instance.store.get(job_id) is not None
    instance.executor.complete(job_id, {"ok": True})
    done = await instance.finished(job_id)
    assert done.status is JobStatus.COMPLETED and done.started_at is not None
    assert marks == [], "the 'running' write waited for the end, which recorded both"


async def test_progress_reported_before_the_running_write_is_recorded_once_it_lands(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_progress = instance.store.set_progress

    async def reply_after_the_running_write(job_id: str, percent: int, message: str | None, now: float) -> Any:
        # The worst order on separate connections: a write refused as "not running yet" whose reply is
        # read only after the "running" write has landed and been handled (its observers called, which
        # happens in the same step as the runner noting the job as running).
        reply = await set_progress(job_id, percent, message, now)

        def handled() -> bool:
            return any(job.id == job_id for job in instance.started)

        await wait_until_async(handled, DEADLINE_SECONDS, "the running write handled")
        return reply

    monkeypatch.setattr(instance.store, "set_progress", reply_after_the_running_write)
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    instance.executor.begin(job_id)
    instance.executor.progress(job_id, 5, "pid 4242")  # at once, as the sleep handler reports its pid

    async def reported() -> Job | None:
        job = await instance.store.get(job_id)
        return job if job is not None and job.message == "pid 4242" else None

    job = await wait_until_async(reported, DEADLINE_SECONDS, "the early progress to be recorded")
    assert (job.status, job.progress) == (JobStatus.RUNNING, 5)


async def test_a_job_still_running_when_its_start_is_written_is_marked_running(instance: Instance) -> None:
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    instance.executor.begin(job_id)

    async def running() -> Job:
        async with asyncio.timeout(DEADLINE_SECONDS):
            while (job := await instance.store.get(job_id)) is None or job.status is not JobStatus.RUNNING:
                await instance.notifier.wait(job_id, 0.05)
            return job

    assert (await running()).started_at == instance.clock.now
    instance.executor.complete(job_id, {"ok": True})
    assert (await instance.finished(job_id)).status is JobStatus.COMPLETED


async def test_a_result_removed_between_its_read_and_its_delivery_is_not_served_as_null(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = (await instance.service.start("/echo", {"kept": True}, "alice", None)).job.id
    instance.executor.begin(job_id)
    instance.executor.complete(job_id, {"ok": True})
    assert (await instance.finished(job_id)).status is JobStatus.COMPLETED
    read = instance.store.get

    async def read_then_removed(wanted: str) -> Job | None:
        job = await read(wanted)
        await instance.store.delete(wanted)  # a DELETE on another instance, or a sweep, lands between
        return job

    monkeypatch.setattr(instance.store, "get", read_then_removed)
    with pytest.raises(JobNotFound):
        await instance.service.collect(job_id, "alice")


async def test_a_poll_during_this_instance_s_outcome_write_answers_the_outcome(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    gate = asyncio.Event()
    finish = instance.store.finish

    async def held(*args: Any, **kwargs: Any) -> Job | None:
        await gate.wait()
        return await finish(*args, **kwargs)

    monkeypatch.setattr(instance.store, "finish", held)
    instance.executor.begin(job_id)
    instance.executor.complete(job_id, {"ok": True})
    await wait_until_async(lambda: instance.runner.finishing(job_id), DEADLINE_SECONDS, "the outcome write")
    poll = asyncio.create_task(instance.service.status(job_id, "alice"))
    await wait_until_async(lambda: instance.notifier.waiters(job_id) > 0, DEADLINE_SECONDS, "the poll to wait")
    gate.set()
    assert (await poll).status is JobStatus.COMPLETED, "answered once the write landed, not just before it"


async def test_a_poll_between_the_worker_s_report_and_the_outcome_write_answers_the_outcome(
    instance: Instance,
) -> None:
    """The outcome's write begins in a task of its own, a loop turn or more after the worker's report;
    a poll in between answered "pending" (and cost the client another poll)."""
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    instance.executor.begin(job_id)
    instance.executor.complete(job_id, {"ok": True})  # reported: the write is not under way yet
    assert (await instance.service.status(job_id, "alice")).status is JobStatus.COMPLETED


async def test_a_long_poll_whose_read_races_the_change_wakes_for_it(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    read = instance.store.get_status
    raced: list[str] = []

    async def read_then_changed(wanted: str) -> Job | None:
        job = await read(wanted)
        if not raced:  # the job ends, and its change is announced, while this read is in flight
            raced.append(wanted)
            instance.executor.begin(job_id)
            instance.executor.complete(job_id, {"ok": True})
            await instance.finished(job_id)
        return job

    monkeypatch.setattr(instance.store, "get_status", read_then_changed)
    async with asyncio.timeout(DEADLINE_SECONDS):  # not the long poll's own 60 s
        job = await instance.service.wait_for_change(job_id, 60, "alice")
    assert raced and job.status is JobStatus.COMPLETED


@pytest.fixture
async def checking_instance(redis: RedisServer) -> AsyncIterator[Instance]:
    """An instance with one worker slot whose ready jobs claimed over 5 s ago are confirmed before sending."""
    async with running_instance(redis, claim_check_seconds=5.0) as built:
        yield built


async def test_a_job_claimed_before_a_stall_and_taken_over_meanwhile_is_not_sent_again(
    checking_instance: Instance,
) -> None:
    instance = checking_instance
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    assert instance.executor.sent == [job_id]  # in its slot, not begun
    instance.clock.advance(10)  # this instance stalled past the check; another took the job over meanwhile
    await instance.store.client.hset(instance.store.key("job", job_id), "claimed_by", "instance-2")
    instance.executor.crash(job_id)  # its worker died before starting it: it is ready to be sent again
    await wait_until_async(lambda: not instance.runner.holds(job_id), DEADLINE_SECONDS, "the lost claim dropped")
    assert instance.executor.sent == [job_id], "never handed to the replacement worker"


async def test_a_job_claimed_long_ago_and_still_held_is_sent_once_confirmed(checking_instance: Instance) -> None:
    instance = checking_instance
    job_id = (await instance.service.start("/echo", {}, "alice", None)).job.id
    instance.clock.advance(10)
    instance.executor.crash(job_id)
    await wait_until_async(lambda: instance.executor.sent == [job_id, job_id], DEADLINE_SECONDS, "the job sent again")
