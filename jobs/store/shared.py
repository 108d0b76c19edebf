"""What instances sharing one store do to act as one service: leases, orphan recovery, announcements.

The in-process store implements these as no-ops (its `shared` is False); the Redis store for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from jobs.model import Job


class SharedStore(Protocol):
    """The part of a job store that lets several instances share it."""

    # True when other instances share the store: changes are then announced through `publish`.
    shared: bool
    # True when the store's own writes announce themselves ("queued" on add; "changed" on running, progress
    # and finish), inside the write: callers then publish only what is not a write ("cancel").
    announces_writes: bool

    async def heartbeat(self, now: float) -> None:
        """Renew this instance's lease on the jobs it claimed (call every few seconds)."""

    async def orphans(self, now: float) -> list[Job]:
        """Active jobs claimed by an instance whose lease expired; each is returned to one caller only."""

    async def requeue(self, job_id: str, now: float) -> Job | None:
        """Put an orphaned job back at the head of the queue as pending, with `retry_count` + 1."""

    async def lost_claims(self, job_ids: list[str]) -> list[str]:
        """Those of `job_ids` (jobs this instance runs) whose claim it no longer holds: stop them at once."""

    async def release_stray_claims(self, known: list[str]) -> list[str]:
        """Requeue this instance's pending claims other than `known` (their claim reply was lost)."""

    async def publish(self, kind: str, job_id: str) -> None:
        """Tell every instance about a job: kind "changed" (status/progress) or "cancel" (stop it)."""

    def events(self) -> AsyncIterator[tuple[str, str]]:
        """(kind, job_id) for every `publish` from any instance, this one included, as they happen."""
