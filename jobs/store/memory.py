"""The embedded job store: plain dictionaries owned by the event loop, so no locks are needed."""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator

from jobs.budget import Ledger
from jobs.model import Job, JobStatus
from jobs.store.protocol import PAGE_SCAN_FACTOR, Admission, Counts, JobPage, SweepReport
from jobs.store.results import NULL_RESULT, HeldResult, StoredResult
from jobs.store.tally import Tally


class MemoryJobStore:
    """Jobs in this process's memory; lost on restart, invisible to other instances."""

    shared = False
    announces_writes = False

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._pending: OrderedDict[str, None] = OrderedDict()  # insertion order is queue order
        self._claimed: set[str] = set()  # taken off the queue by a runner, not started yet: still pending
        self._active_by_client: Counter[str] = Counter()
        self._by_idempotency_key: dict[tuple[str, str], str] = {}
        self._subscribers: list[asyncio.Queue[tuple[str, str]]] = []
        self._result_bytes = 0
        self._ledger = Ledger()
        self._tally = Tally()

    async def add(self, job: Job, admission: Admission) -> Job:
        if job.idempotency_key is not None:
            existing = self._by_idempotency_key.get((job.client, job.idempotency_key))
            if existing is not None:
                return self._jobs[existing]
        if self._active_by_client[job.client] >= admission.per_client_limit:
            raise admission.client_limit_reached()
        if len(self._pending) + len(self._claimed) >= admission.max_pending:
            raise admission.queue_full()
        self._ledger.admit(job.id, job.client, admission.reserve, admission.budget)
        self._jobs[job.id] = job
        self._pending[job.id] = None
        self._active_by_client[job.client] += 1
        self._tally.add(job)
        if job.idempotency_key is not None:
            self._by_idempotency_key[(job.client, job.idempotency_key)] = job.id
        return job

    async def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def get_status(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def open_result(self, job: Job) -> StoredResult:
        return NULL_RESULT if job.result_json is None else HeldResult(job.result_json)

    async def read_result(self, job_id: str) -> bytes | None:
        job = self._jobs.get(job_id)
        return None if job is None else job.result_json

    async def claim_next(self, now: float) -> Job | None:
        if not self._pending:
            return None
        job_id, _ = self._pending.popitem(last=False)
        self._claimed.add(job_id)
        return self._jobs[job_id]

    async def add_and_claim(self, job: Job, admission: Admission, now: float, limit: int) -> tuple[Job, list[Job]]:
        stored = await self.add(job, admission)
        return stored, await self.claim_many(now, limit) if stored is job else []

    async def claim_many(self, now: float, limit: int) -> list[Job]:
        claimed: list[Job] = []
        while len(claimed) < limit and (job := await self.claim_next(now)) is not None:
            claimed.append(job)
        return claimed

    async def mark_running(self, job_id: str, now: float) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.PENDING:
            return None
        self._claimed.discard(job_id)
        job.status = JobStatus.RUNNING
        job.started_at = job.updated_at = now
        job.message = ""  # the pending job's message no longer holds; the API words the default
        self._tally.recount(job)
        return job

    async def set_progress(self, job_id: str, progress: int, message: str | None, now: float) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return None
        # Progress never goes backwards, and 100 means done: a running job shows at most 99.
        job.progress = max(job.progress, min(progress, 99))
        if message:
            job.message = message
        job.updated_at = now
        return job

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
        job = self._jobs.get(job_id)
        if job is None or not job.status.is_active:
            return None
        if job.started_at is None:
            job.started_at = started_at
        self._release(job)
        job.status = status
        job.message = message
        job.finished_at = job.updated_at = now
        job.result_json = result_json
        self._result_bytes += len(result_json or b"")
        self._ledger.settle(job_id, len(result_json or b""))
        job.error = error
        job.end_reason = reason
        job.payload = {}  # a finished job never runs again: its payload (up to max_body_bytes) goes now
        if status is JobStatus.COMPLETED:
            job.progress = 100
        self._tally.recount(job)
        return job

    async def mark_delivered(self, job_id: str, now: float) -> float | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        if job.delivered_at is None:
            job.delivered_at = now
            self._tally.remove(job_id)  # delivered results are no longer jobs (counts, lists)
        return job.delivered_at

    async def deliver(self, job: Job, now: float) -> tuple[float, StoredResult] | None:
        kept = await self.mark_delivered(job.id, now)
        if kept is None:
            return None
        held = self._jobs[job.id]
        return kept, await self.open_result(held)

    async def delete(self, job_id: str) -> Job | None:
        job = self._jobs.pop(job_id, None)
        if job is not None:
            self._release(job)
            self._tally.remove(job_id)
            self._result_bytes -= len(job.result_json or b"")
            self._ledger.release(job_id)
            if job.idempotency_key is not None:
                self._by_idempotency_key.pop((job.client, job.idempotency_key), None)
        return job

    async def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        return [
            job for job in self._jobs.values() if job.delivered_at is None and (status is None or job.status is status)
        ]

    async def page_jobs(self, status: JobStatus | None, client: str | None, cursor: int, limit: int) -> JobPage:
        jobs: list[Job] = []
        for examined, (number, job_id) in enumerate(self._tally.listing(client).after(cursor)):
            if len(jobs) == limit or examined == PAGE_SCAN_FACTOR * limit:
                return JobPage(jobs, cursor)
            cursor = number
            job = self._jobs[job_id]
            if status is None or job.status is status:
                jobs.append(job)
        return JobPage(jobs, None)

    async def counts(self, client: str | None = None) -> Counts:
        return self._tally.counts(client, self._result_bytes)

    async def result_bytes(self) -> int:
        return self._result_bytes

    async def pending_count(self, max_age: float = 0.0) -> int:
        return len(self._pending) + len(self._claimed)  # always exact: nothing to save here

    async def sweep(self, now: float, retention_seconds: float, grace_seconds: float) -> SweepReport:
        report = SweepReport()
        for job in list(self._jobs.values()):
            if job.delivered_at is not None and now - job.delivered_at >= grace_seconds:
                await self.delete(job.id)
                report.removed_delivered += 1
            elif job.finished_at is not None and now - job.finished_at >= retention_seconds:
                await self.delete(job.id)
                report.removed_finished += 1
            elif job.status is JobStatus.PENDING and now - job.created_at >= job.timeout_seconds:
                report.expired_pending.append(job)
        return report

    async def heartbeat(self, now: float) -> None:
        return None  # one process: nobody else could take over its jobs

    async def orphans(self, now: float) -> list[Job]:
        return []

    async def release_stray_claims(self, known: list[str]) -> list[str]:
        return []  # no reply to lose: claims are function calls

    async def lost_claims(self, job_ids: list[str]) -> list[str]:
        return []  # one process: no other instance can take a claim away

    async def requeue(self, job_id: str, now: float) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or not job.status.is_active:
            return None
        self._claimed.discard(job_id)
        job.status = JobStatus.PENDING
        job.retry_count += 1
        job.started_at = None
        job.updated_at = now
        self._tally.recount(job)
        self._pending[job_id] = None
        self._pending.move_to_end(job_id, last=False)
        return job

    async def publish(self, kind: str, job_id: str) -> None:
        for queue in self._subscribers:
            queue.put_nowait((kind, job_id))

    async def events(self) -> AsyncIterator[tuple[str, str]]:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)

    async def close(self) -> None:
        self._jobs.clear()
        self._pending.clear()
        self._claimed.clear()
        self._active_by_client.clear()
        self._by_idempotency_key.clear()
        self._result_bytes = 0
        self._ledger.clear()
        self._tally = Tally()

    def _release(self, job: Job) -> None:
        if job.status.is_active:
            self._pending.pop(job.id, None)
            self._claimed.discard(job.id)
            self._active_by_client[job.client] -= 1
            if self._active_by_client[job.client] <= 0:
                del self._active_by_client[job.client]
