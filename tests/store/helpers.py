"""Building jobs and listening to store events in the store tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from jobs.model import Job, new_job_id
from jobs.store import Admission, JobStore
from tests.waiting import wait_until_async

T0 = 1_000.0  # the tests' clock starts here; Redis expiries use real time and are tested apart
ROOMY = Admission(per_client_limit=100, max_pending=1_000)
ECHO = "/api/v1/demo/echo"

T = TypeVar("T")


def make_job(
    client: str = "client-a",
    *,
    at: float = T0,
    endpoint: str = ECHO,
    timeout: float = 30.0,
    key: str | None = None,
) -> Job:
    """A fresh pending job created at `at`."""
    return Job(
        id=new_job_id(at),
        endpoint=endpoint,
        payload={"text": "héllo", "n": [1, 2]},
        client=client,
        timeout_seconds=timeout,
        created_at=at,
        idempotency_key=key,
    )


async def add_jobs(store: JobStore, count: int, client: str = "client-a", at: float = T0) -> list[Job]:
    """Add `count` jobs one after another (creation times one millisecond apart)."""
    return [await store.add(make_job(client, at=at + i / 1000), ROOMY) for i in range(count)]


async def start_running(store: JobStore, job: Job, now: float = T0 + 1) -> Job:
    """Claim the job (it must be the next in line) and mark it running."""
    claimed = await store.claim_next(now)
    assert claimed is not None and claimed.id == job.id
    running = await store.mark_running(job.id, now)
    assert running is not None
    return running


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout: float = 5.0, what: str = "the store to get there"
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout`."""
    return await wait_until_async(check, timeout, what)


class Listener:
    """Collects a store's events in a background task."""

    def __init__(self, store: JobStore) -> None:
        self.received: list[tuple[str, str]] = []
        self._task = asyncio.create_task(self._run(store))

    async def _run(self, store: JobStore) -> None:
        async for event in store.events():
            self.received.append(event)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def publish_until_heard(publisher: JobStore, listeners: list[Listener], job_id: str) -> None:
    """Publish a probe until every listener got one: then all of them are subscribed."""

    async def all_heard() -> bool:
        if all(("probe", job_id) in listener.received for listener in listeners):
            return True
        await publisher.publish("probe", job_id)  # again: a listener may not have been subscribed yet
        return False

    await eventually(all_heard, what="every listener to hear a probe")


def redis_url(store: JobStore) -> str:
    """The URL of the Redis a Redis store talks to, for a raw client beside it."""
    kwargs = store.client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"
