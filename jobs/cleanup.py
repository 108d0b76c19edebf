"""The periodic cleanup coroutine."""

from __future__ import annotations

import asyncio
import logging

from jobs.service import JobService
from jobs.trim import release_free_memory

log = logging.getLogger("docjobs.cleanup")


async def cleanup_forever(service: JobService, interval_seconds: float) -> None:
    """Sweep every `interval_seconds`; a failed sweep is logged and the next one runs as planned."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await service.sweep()
        except Exception:
            log.exception("cleanup sweep failed")
        # Freed payloads and results otherwise stay in the allocator's heap (see jobs.trim).
        await asyncio.to_thread(release_free_memory)
