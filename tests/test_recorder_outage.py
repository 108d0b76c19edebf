"""An outcome write is retried until it lands, however long the store is down: never abandoned."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

from jobs.estimates import DurationEstimator
from jobs.model import Job, JobStatus
from jobs.notify import ChangeNotifier
from jobs.recorder import JobRecorder
from jobs.store.redis import RedisJobStore
from tests.store.helpers import T0, add_jobs, start_running
from tests.store.redis_server import RedisServer, running_redis


class FakeClock:
    """Wall time the test moves by hand: an outage of minutes passes in a moment."""

    def __init__(self) -> None:
        self.now = T0 + 10

    def __call__(self) -> float:
        return self.now


async def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait (with a deadline) until `check()` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_an_outcome_write_outlasting_the_old_120_s_bound_still_lands(tmp_path: Path) -> None:
    with running_redis(tmp_path) as own_redis:
        await _outage_outlasting_the_old_bound(own_redis)


async def _outage_outlasting_the_old_bound(own_redis: RedisServer) -> None:
    store = await RedisJobStore.connect(
        own_redis.url, instance_id="one", socket_timeout=0.1, retention_seconds=600.0, grace_seconds=600.0
    )
    clock = FakeClock()
    recorder = JobRecorder(store, DurationEstimator(), ChangeNotifier(), clock)
    try:
        (job,) = await add_jobs(store, 1)
        await start_running(store, job)
        attempts = 0

        async def write_outcome() -> Job | None:
            nonlocal attempts
            attempts += 1
            return await store.finish(job.id, JobStatus.COMPLETED, "done", clock())

        assert own_redis.process is not None
        own_redis.process.send_signal(signal.SIGSTOP)
        try:
            writing = asyncio.create_task(recorder.persist(write_outcome))
            await wait_until(lambda: attempts >= 2)
            clock.now += 600  # ten minutes of outage, far past the old 120 s bound
            seen = attempts
            await wait_until(lambda: attempts > seen)
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        async with asyncio.timeout(15):
            done = await writing
        assert done is not None and done.status is JobStatus.COMPLETED
    finally:
        await store.close()
