"""The fleet's figures in Redis: every instance adds its finished jobs and reports its workers there.

Keys (under the store's prefix):
- `fig:workers`, a hash: instance id -> "total busy", rewritten when this instance's workers change.
  Only instances whose lease key still exists count, so a dead instance drops out within a lease.
- `fig:finished:<endpoint>`, a hash: final status -> jobs finished since the prefix was first used.
- `fig:durations:<endpoint>`, a list: the run times of the last SAMPLES_KEPT completed jobs.
Reading them costs two round trips whatever the number of jobs held: O(endpoints + instances).

Writes leave the job's critical path: finishes are counted here and flushed in one pipeline by a
background loop, so under load many jobs share one round trip. The price: an instance killed between a
job's end and the next flush (milliseconds) loses that job from the counts, never from the job store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from redis.asyncio.client import Pipeline

from jobs.estimates import SAMPLES_KEPT, DurationEstimator, summarize
from jobs.figures import Figures
from jobs.model import Job, JobStatus
from jobs.runner import JobRunner
from jobs.store.redis import UNAVAILABLE_ERRORS, RedisJobStore

log = logging.getLogger("docjobs.figures")

# The estimator adopts the fleet's durations this often: a new endpoint's first runs anywhere inform
# every instance's estimates within this, at two cheap reads a second.
REFRESH_SECONDS = 1.0
# A flush waits this long before the next one, so that under load one round trip carries many jobs.
BATCH_SECONDS = 0.1
# A stop waits at most this long for Redis to take the last figures: an outage must not delay it.
CLOSE_SECONDS = 1.0
# After a failed flush, wait this long before the next try (Redis restarts take seconds).
RETRY_SECONDS = 0.5


class RedisFigures:
    """Fleet-wide workers, finished counts and durations, shared through the Redis store."""

    def __init__(self, store: RedisJobStore, runner: JobRunner, estimator: DurationEstimator) -> None:
        self._store = store
        self._runner = runner
        self._estimator = estimator
        self._finished: Counter[tuple[str, str]] = Counter()  # not yet flushed
        self._durations: dict[str, list[float]] = {}  # not yet flushed
        self._reported: tuple[int, int] | None = None  # the workers line last written
        self._fleet_workers = runner.total_workers
        self._dirty = asyncio.Event()
        runner.on_started.append(lambda _job: self._dirty.set())
        runner.on_finished.append(self._note_finished)

    def _note_finished(self, job: Job) -> None:
        self._finished[(job.endpoint, job.status.value)] += 1
        duration = job.duration_seconds
        if job.status is JobStatus.COMPLETED and duration is not None:
            self._durations.setdefault(job.endpoint, []).append(max(0.0, duration))
        self._dirty.set()

    def workers_total(self) -> int:
        """Worker slots over the fleet at the last snapshot or refresh."""
        return self._fleet_workers

    async def snapshot(self, endpoints: list[str]) -> Figures:
        """The fleet's figures for these endpoints, read from Redis now."""
        try:
            async with self._store.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self._store.key("fig", "workers"))
                for path in endpoints:
                    pipe.hgetall(self._store.key("fig", "finished", path))
                    pipe.lrange(self._store.key("fig", "durations", path), 0, -1)
                replies: list[Any] = await pipe.execute()
            total, busy = await self._live_workers(replies[0])
        except UNAVAILABLE_ERRORS as exc:
            raise self._store.unavailable(exc) from exc
        finished, durations = {}, {}
        for index, path in enumerate(endpoints):
            counts, samples = replies[1 + 2 * index], replies[2 + 2 * index]
            finished[path] = {status: int(count) for status, count in counts.items()}
            durations[path] = summarize(float(seconds) for seconds in samples)
        return Figures(total, busy, finished, durations)

    async def _live_workers(self, lines: dict[str, str]) -> tuple[int, int]:
        instances = sorted(lines)
        async with self._store.client.pipeline(transaction=False) as pipe:
            for instance in instances:
                pipe.exists(self._store.key("lease", instance))
            alive = await pipe.execute()
        total = busy = 0
        for instance, live in zip(instances, alive, strict=True):
            if live:
                instance_total, instance_busy = (int(n) for n in lines[instance].split())
                total, busy = total + instance_total, busy + instance_busy
        self._fleet_workers = total
        return total, busy

    async def run(self, endpoints: list[str]) -> None:
        """Flush this instance's figures as they change; adopt the fleet's durations every second."""
        loop = asyncio.get_running_loop()
        next_refresh = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout=max(0.0, next_refresh - loop.time()))
            try:
                await self.flush()
                await asyncio.sleep(BATCH_SECONDS)
                if loop.time() >= next_refresh:
                    await self._refresh(endpoints)
                    next_refresh = loop.time() + REFRESH_SECONDS
            except UNAVAILABLE_ERRORS as exc:
                log.warning("could not share this instance's figures through Redis (%s); retrying", exc)
                await asyncio.sleep(RETRY_SECONDS)

    async def flush(self) -> None:
        """Write the finishes counted and the workers line, in one round trip; kept for a retry on failure."""
        self._dirty.clear()
        finished, self._finished = self._finished, Counter()
        durations, self._durations = self._durations, {}
        workers = (self._runner.total_workers, self._runner.busy_workers)
        if not finished and not durations and workers == self._reported:
            return
        try:
            async with self._store.client.pipeline(transaction=False) as pipe:
                self._queue_writes(pipe, finished, durations, workers)
                await pipe.execute()
        except BaseException:
            self._finished.update(finished)
            for path, samples in durations.items():
                self._durations[path] = samples + self._durations.get(path, [])
            self._reported = None
            raise
        self._reported = workers

    def _queue_writes(
        self,
        pipe: Pipeline,
        finished: Counter[tuple[str, str]],
        durations: dict[str, list[float]],
        workers: tuple[int, int],
    ) -> None:
        for (path, status), count in finished.items():
            pipe.hincrby(self._store.key("fig", "finished", path), status, count)
        for path, samples in durations.items():
            key = self._store.key("fig", "durations", path)
            pipe.rpush(key, *(repr(seconds) for seconds in samples))
            pipe.ltrim(key, -SAMPLES_KEPT, -1)
        line = f"{workers[0]} {workers[1]}"
        if workers[0]:  # an API-only instance adds no workers
            pipe.hset(self._store.key("fig", "workers"), self._store.instance_id, line)

    async def _refresh(self, endpoints: list[str]) -> None:
        figures_key = self._store.key("fig", "workers")
        async with self._store.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(figures_key)
            for path in endpoints:
                pipe.lrange(self._store.key("fig", "durations", path), 0, -1)
            replies: list[Any] = await pipe.execute()
        await self._live_workers(replies[0])
        for path, samples in zip(endpoints, replies[1:], strict=True):
            if samples:
                self._estimator.replace(path, [float(seconds) for seconds in samples])

    async def close(self) -> None:
        """On a clean stop: flush what is counted, and take this instance's workers out of the fleet's."""
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await self.flush()
                await self._store.client.hdel(self._store.key("fig", "workers"), self._store.instance_id)
        except (*UNAVAILABLE_ERRORS, TimeoutError) as exc:
            log.warning("could not leave this instance's last figures in Redis (%s)", exc)
