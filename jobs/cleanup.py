"""The periodic cleanup coroutine."""

from __future__ import annotations

import asyncio
import logging

from jobs.errors import StoreUnavailable
from jobs.service import JobService
from jobs.trim import release_free_memory

log = logging.getLogger("docjobs.cleanup")


async def cleanup_forever(service: JobService, interval_seconds: float) -> None:
    """Sweep every `interval_seconds`; a failed sweep is logged and the next one runs as planned.

    A store outage is expected weather, not a bug: the next sweep does what this one could not. It is
    logged once when the sweeps start failing and once when they succeed again, without a traceback
    (the chaos soak saw one error with the whole redis-py traceback per sweep, every interval).
    """
    failing = False
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await service.sweep()
        except StoreUnavailable as exc:
            if not failing:
                log.warning("cleanup sweeps fail while the job store is unavailable (%s); retrying each interval", exc)
            failing = True
        except Exception:
            log.exception("cleanup sweep failed")
        else:
            if failing:
                log.warning("cleanup sweeps succeed again")
            failing = False
        # Freed payloads and results otherwise stay in the allocator's heap (see jobs.trim).
        await asyncio.to_thread(release_free_memory)
