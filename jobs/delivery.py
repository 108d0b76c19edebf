"""Delivery marks the store refused when a result was served: written later, by the instance on its own.

A result can be served while Redis refuses writes (at maxmemory, a read-only replica): the outcome is in
hand. Its delivery mark is bookkeeping (the record is then kept only for the grace period, and hidden
from lists), but without it the record stays for its whole retention and is listed as never fetched.
So a refused mark is kept here and written again until the store takes it, whether or not anyone
fetches the result again; a later fetch meanwhile answers the same `retrieved_at`.
"""

from __future__ import annotations

import asyncio
import logging

from jobs.errors import StoreUnavailable
from jobs.logs import log_event
from jobs.store import JobStore

# The first retry comes soon (a refusal is often a blip); later ones back off so that a long outage
# costs one write a few seconds, whatever the number of marks waiting.
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 5.0


class LateDeliveryMarks:
    """Delivery marks waiting to be written: job id -> the time its result was served."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self._waiting: dict[str, float] = {}
        self._added = asyncio.Event()

    def add(self, job_id: str, delivered_at: float) -> None:
        """Write this mark later (the first time a job's result was served wins)."""
        self._waiting.setdefault(job_id, delivered_at)
        self._added.set()

    def served_at(self, job_id: str) -> float | None:
        """When this job's result was first served, if its mark is still waiting."""
        return self._waiting.get(job_id)

    async def run(self) -> None:
        """Write the waiting marks until each lands; runs as one of the system's background loops."""
        delay = FIRST_RETRY_SECONDS
        while True:
            if not self._waiting:
                self._added.clear()
                await self._added.wait()
            await asyncio.sleep(delay)  # the retry's backoff: the store refused this a moment ago
            try:
                await self._write_all()
            except StoreUnavailable:
                delay = min(MAX_RETRY_SECONDS, delay * 2)
            else:
                delay = FIRST_RETRY_SECONDS

    async def _write_all(self) -> None:
        for job_id, delivered_at in list(self._waiting.items()):
            await self._store.mark_delivered(job_id, delivered_at)  # None: the record is gone; nothing to mark
            del self._waiting[job_id]
            log_event("job.delivery_recorded_late", job_id=job_id, level=logging.INFO)
