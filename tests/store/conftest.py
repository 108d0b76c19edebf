"""Store fixtures: every contract test runs on the memory and the Redis backend (a private redis-server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from jobs.store import JobStore
from jobs.store.memory import MemoryJobStore
from jobs.store.redis import RedisJobStore
from tests.store.redis_server import RedisServer, running_redis

# Long enough that no record expires by TTL unless a test asks for it.
DEFAULT_TTL_SECONDS = 600.0


class StoreFactory(Protocol):
    """Opens a store of the test's backend; on Redis each call is another instance on the same data."""

    async def __call__(self, **kwargs: Any) -> JobStore: ...


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private redis-server for the session; tests keep apart by key prefix."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for one test alone, which it may stop and restart."""
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_stores(redis_server: RedisServer, prefix: str) -> AsyncIterator[StoreFactory]:
    """Opens RedisJobStore instances (instance-1, instance-2, ...) on the session's server, closed after."""
    opened: list[RedisJobStore] = []

    async def open_store(url: str | None = None, **kwargs: Any) -> JobStore:
        options: dict[str, Any] = {
            "prefix": prefix,
            "instance_id": f"instance-{len(opened) + 1}",
            "retention_seconds": DEFAULT_TTL_SECONDS,
            "grace_seconds": DEFAULT_TTL_SECONDS,
            **kwargs,
        }
        store = await RedisJobStore.connect(url or redis_server.url, **options)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


@pytest.fixture
async def memory_stores() -> AsyncIterator[StoreFactory]:
    """Hands out one MemoryJobStore however often it is called (it has no other instances)."""
    memory = MemoryJobStore()

    async def the_store(**kwargs: Any) -> JobStore:
        return memory

    yield the_store
    await memory.close()


@pytest.fixture(params=["memory", "redis"])
def open_store(request: pytest.FixtureRequest) -> StoreFactory:
    """Opens stores of the test's backend; the Redis server is started only for the Redis runs."""
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_stores")
    return factory


@pytest.fixture
async def store(open_store: StoreFactory) -> JobStore:
    """A store of the test's backend."""
    return await open_store()
