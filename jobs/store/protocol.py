"""The job store contract. The jobs API talks to this Protocol only, never to a backend."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from jobs.budget import NOTHING, UNLIMITED, Budget, Reservation
from jobs.errors import ClientLimitReached, QueueFull
from jobs.model import Job, JobStatus
from jobs.store.results import StoredResult
from jobs.store.shared import SharedStore

# 'Retry-After' for a full queue or a client at its limit: long enough not to hammer, short enough
# that a client gets in soon after a slot frees.
RETRY_AFTER_SECONDS = 5
# A page of the job list examines at most this many jobs per job it may return: with a status filter
# a page stays O(limit) even when few jobs match, at the price of a short page before the end.
PAGE_SCAN_FACTOR = 10


@dataclass(frozen=True, slots=True)
class Admission:
    """The limits a new job must fit in, checked atomically with its insertion."""

    per_client_limit: int
    max_pending: int
    # What the job reserves (its maximum result, its payload) and the budgets that must hold it.
    budget: Budget = UNLIMITED
    reserve: Reservation = NOTHING

    def client_limit_reached(self) -> ClientLimitReached:
        """The refusal of a client that already holds `per_client_limit` active jobs."""
        return ClientLimitReached(
            f"you already have {self.per_client_limit} pending or running jobs, the maximum; "
            "wait for one to finish or delete one",
            retry_after=RETRY_AFTER_SECONDS,
        )

    def queue_full(self) -> QueueFull:
        """The refusal of a job when `max_pending` jobs already wait."""
        return QueueFull(
            f"the queue holds {self.max_pending} pending jobs, its maximum; try again later",
            retry_after=RETRY_AFTER_SECONDS,
        )


@dataclass(slots=True)
class SweepReport:
    """What one cleanup sweep removed, by reason."""

    removed_finished: int = 0
    removed_delivered: int = 0
    expired_pending: list[Job] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Counts:
    """Jobs by status and by endpoint, for stats (delivered results are no longer jobs)."""

    by_status: dict[str, int]
    by_endpoint: dict[str, int]
    result_bytes: int
    by_endpoint_status: dict[str, dict[str, int]] = field(default_factory=dict)  # endpoint -> status -> jobs


def counts_of(counted: Iterable[tuple[str, str, int]], result_bytes: int) -> Counts:
    """Counts from the stores' counters: (status, endpoint, jobs) triples, read in O(statuses x endpoints)."""
    by_status: dict[str, int] = {}
    by_endpoint: dict[str, int] = {}
    by_endpoint_status: dict[str, dict[str, int]] = {}
    for status, endpoint, jobs in counted:
        if jobs > 0:
            by_status[status] = by_status.get(status, 0) + jobs
            by_endpoint[endpoint] = by_endpoint.get(endpoint, 0) + jobs
            by_endpoint_status.setdefault(endpoint, {})[status] = jobs
    return Counts(by_status, by_endpoint, result_bytes, by_endpoint_status)


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of the job list, and the cursor of the next page (None after the last)."""

    jobs: list[Job]
    next_cursor: int | None


class JobStore(SharedStore, Protocol):
    """Where jobs live: their records, the pending queue and the per-client counts."""

    async def add(self, job: Job, admission: Admission) -> Job:
        """Insert a pending job, or raise ClientLimitReached / QueueFull / StoreFull, atomically.

        The job's `admission.reserve` is held from then on (see `jobs.budget`): `finish` turns its
        result part into the real result's size and releases its payload part, `delete` (and the
        sweep) release what is left.

        When `job.idempotency_key` is set and the same client already has a job with that key, nothing
        is inserted and that job is returned instead; otherwise `job` itself is returned.
        """

    async def add_and_claim(self, job: Job, admission: Admission, now: float, limit: int) -> tuple[Job, list[Job]]:
        """`add`, then, once the job is in, `claim_many(now, limit)`: on Redis one round trip for both.

        The claims are the oldest queued jobs, as `claim_many` takes them (the new job among them when
        nothing older waits); a replayed start claims nothing.
        """

    async def get(self, job_id: str) -> Job | None:
        """The job, or None when it does not exist (a delivered result past its grace is gone).

        Its payload may be left out (`{}`: the Redis store does): only the runner needs it, and it gets
        it from `claim_next`, `orphans` and `sweep`'s expired jobs.
        """

    async def get_status(self, job_id: str) -> Job | None:
        """`get` for a status poll: it may answer from a copy this instance knows to be current.

        A shared store may answer a change made on another instance only once that change's
        announcement has arrived (about a round trip later). Never for a result, a delivery or a
        deletion: those call `get`.
        """

    async def open_result(self, job: Job) -> StoredResult:
        """The finished job's result, to be sent a piece at a time ("null" when it has none)."""

    async def read_result(self, job_id: str) -> bytes | None:
        """The job's result bytes whole (a direct call's single answer), or None."""

    async def claim_next(self, now: float) -> Job | None:
        """Take the oldest pending job off the queue (it stays pending), or None when none waits."""

    async def claim_many(self, now: float, limit: int) -> list[Job]:
        """Take up to `limit` jobs off the head of the queue at once, oldest first (as `claim_next` does)."""

    async def mark_running(self, job_id: str, now: float) -> Job | None:
        """A worker started the job (its message is cleared); None when it is no longer pending."""

    async def set_progress(self, job_id: str, progress: int, message: str | None, now: float) -> Job | None:
        """Record progress of a running job; None when the job is no longer running."""

    async def finish(
        self,
        job_id: str,
        status: JobStatus,
        message: str,
        now: float,
        *,
        result_json: bytes | None = None,
        error: str | None = None,
        reason: str | None = None,
        started_at: float | None = None,
    ) -> Job | None:
        """Move an active job to a final status, recording why (`reason`); None when it was deleted meanwhile.

        `started_at` records the start of a job that ended before it was marked running (one write for both).
        """

    async def mark_delivered(self, job_id: str, now: float) -> float | None:
        """Note that the job's outcome was delivered (kept only for the grace period from then).

        Returns the delivery time the store keeps: an earlier one if another fetch came first.
        """

    async def deliver(self, job: Job, now: float) -> tuple[float, StoredResult] | None:
        """`mark_delivered` and `open_result` of a finished job in one step (on Redis one round trip).

        None when the job's record is gone: what was read of it before must not be served.
        """

    async def delete(self, job_id: str) -> Job | None:
        """Remove a job in any state (a pending one leaves the queue); returns what was removed."""

    async def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        """Jobs, oldest first, optionally of one status; delivered ones are left out."""

    async def page_jobs(self, status: JobStatus | None, client: str | None, cursor: int, limit: int) -> JobPage:
        """Up to `limit` jobs listed after `cursor` (0 for the first page), oldest first, optionally of one
        status and one client; delivered ones are left out. Examines at most PAGE_SCAN_FACTOR x `limit` jobs,
        so a filtered page may be short (even empty) while `next_cursor` is not None."""

    async def counts(self, client: str | None = None) -> Counts:
        """How many jobs there are (or `client` has), by status and endpoint, from counters: never a scan."""

    async def result_bytes(self) -> int:
        """Bytes of results held (delivered ones included until they are deleted)."""

    async def pending_count(self, max_age: float = 0.0) -> int:
        """How many jobs wait for a worker; with `max_age`, a count read that many seconds ago at most
        may answer instead (an estimate's queue length, which a start has just read on Redis)."""

    async def sweep(self, now: float, retention_seconds: float, grace_seconds: float) -> SweepReport:
        """Delete finished jobs past retention, delivered ones past grace; expire overdue pending ones."""

    async def close(self) -> None:
        """Release the store's resources."""
