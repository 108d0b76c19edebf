"""Where jobs live: the store protocol, its backends (memory, Redis) and the factory that opens one."""

from __future__ import annotations

import os
import socket
import uuid

from jobs.settings import Settings
from jobs.store.memory import MemoryJobStore
from jobs.store.protocol import RETRY_AFTER_SECONDS, Admission, Counts, JobPage, JobStore, SweepReport
from jobs.store.shared import SharedStore

__all__ = [
    "RETRY_AFTER_SECONDS",
    "Admission",
    "Counts",
    "JobPage",
    "JobStore",
    "SharedStore",
    "SweepReport",
    "open_store",
]


async def open_store(settings: Settings) -> JobStore:
    """The configured store: this process's memory, or Redis (which must answer at start-up)."""
    if settings.store.backend == "memory":
        return MemoryJobStore()
    from jobs.store.redis import RedisJobStore  # noqa: PLC0415 - redis is needed only for this backend

    return await RedisJobStore.connect(
        settings.store.url,
        instance_id=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        retention_seconds=settings.jobs.retention_seconds,
        grace_seconds=settings.jobs.result_grace_seconds,
        prefix=settings.store.prefix,
        lease_seconds=settings.store.lease_seconds,
    )
