"""The shared job store: records, queue, counts and leases in Redis, so many instances act as one service."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MasterDownError, OutOfMemoryError, ReadOnlyError, TryAgainError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.errors import StoreUnavailable
from jobs.model import Job, JobStatus
from jobs.store.attempts import ClaimedAttempts
from jobs.store.codec import STATUS_FIELDS, decode_job, encode_job, pairs
from jobs.store.lua import SCRIPT_NAMES, script_source
from jobs.store.protocol import PAGE_SCAN_FACTOR, Admission, Counts, JobPage, SweepReport, counts_of
from jobs.store.recent import RecentCount
from jobs.store.redis_pipe import PipelinedRedis, Script, Subscription
from jobs.store.redis_result import SMALL_RESULT_BYTES, RedisResult
from jobs.store.results import NULL_RESULT, HeldResult, StoredResult
from jobs.store.status_cache import UNVERSIONED, StatusCache, Ticket

log = logging.getLogger("docjobs.redis_store")

T = TypeVar("T")

# A healthy Redis answers in milliseconds: past this a request fails with 503 instead of hanging.
SOCKET_TIMEOUT_SECONDS = 2.0
# Ids per sweep script: cheap in round trips, yet short enough never to block Redis noticeably.
SWEEP_BATCH = 200
# Jobs per script when the whole list is read (shutdown checks, tests): a script never blocks Redis long.
LIST_PAGE = 500
# Retry-After when Redis is down: restarts and failovers take seconds, not minutes.
UNAVAILABLE_RETRY_AFTER_SECONDS = 2
# A lost pub/sub connection is retried with doubling pauses up to this.
EVENTS_BACKOFF_MAX_SECONDS = 2.0
# Redis errors that mean "not able to serve right now": unreachable, a failover left us on a replica
# (ReadOnlyError, MasterDownError), full (OutOfMemoryError at maxmemory), TRYAGAIN. Each is a 503 with
# Retry-After for the client, never a 500.
UNAVAILABLE_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    MasterDownError,
    OutOfMemoryError,
    TryAgainError,
)


class RedisJobStore:
    """Jobs in Redis under one key prefix, shared by every instance that uses the same URL and prefix."""

    shared = True
    announces_writes = True  # the scripts PUBLISH (lua/common.lua announce): one round trip less per change

    def __init__(
        self,
        url: str,
        *,
        instance_id: str,
        retention_seconds: float,
        grace_seconds: float,
        prefix: str = "docjobs",
        lease_seconds: float = 30.0,
        socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
        status_cache: StatusCache | None = None,
    ) -> None:
        if not instance_id or any(c.isspace() for c in instance_id):
            raise ValueError("instance_id must be a non-empty string without spaces, unique per process")
        if not prefix:
            raise ValueError("prefix must not be empty")
        if lease_seconds <= 0 or socket_timeout <= 0:
            raise ValueError("lease_seconds and socket_timeout must be positive")
        if retention_seconds < 0 or grace_seconds < 0:
            raise ValueError("retention_seconds and grace_seconds must not be negative")
        self.instance_id = instance_id
        self.prefix = prefix
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._retention_ms = round(retention_seconds * 1000)
        self._grace_ms = round(grace_seconds * 1000)
        self._attempts = ClaimedAttempts()
        self._pending_seen = RecentCount()
        # Answers status polls while `events` is subscribed (it keeps the cache true; see status_cache.py).
        self._statuses = status_cache if status_cache is not None else StatusCache()
        self._client: Redis = _connect(url, socket_timeout, decode=True)
        # Results are read as bytes: a range may end inside a UTF-8 character, and nothing is decoded.
        self._raw: Redis = _connect(url, socket_timeout, decode=False)
        kwargs = self._client.connection_pool.connection_kwargs
        self._where = kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        # A script is loaded again when Redis answers NOSCRIPT (after a restart): see redis_pipe.py.
        self._scripts = {name: Script(script_source(name)) for name in SCRIPT_NAMES}
        # The scripts and the reads of every job's life share one pipelined connection each (decoded
        # replies, and raw bytes for results): a round trip costs the loop a few microseconds.
        self._pipe = PipelinedRedis(self._client.connection_pool, decode=True, timeout=socket_timeout)
        self._pipe_raw = PipelinedRedis(self._raw.connection_pool, decode=False, timeout=socket_timeout)

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> Self:
        """A store whose Redis answered a PING; raises StoreUnavailable when it does not."""
        store = cls(url, **kwargs)
        try:
            await store.ping()
        except StoreUnavailable:
            await store.close()
            raise
        return store

    async def ping(self) -> None:
        """Check that Redis answers (for readiness probes)."""
        await self._read(self._client.ping)

    @property
    def client(self) -> Redis:
        """The connection pool, shared with the fleet figures (jobs.store.redis_figures)."""
        return self._client

    def unavailable(self, exc: Exception) -> StoreUnavailable:
        """The error a caller sees when a Redis call failed with one of UNAVAILABLE_ERRORS.

        The answer names no host or port (Redis's own error text does); the log may.
        """
        log.warning("Redis at %s is unavailable: %s", self._where, exc)
        return StoreUnavailable(
            f"the job store is unavailable ({type(exc).__name__}); retry shortly",
            retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS,
        )

    def key(self, *parts: str) -> str:
        """The full name of one of this store's keys (for tests and tooling)."""
        return ":".join((self.prefix, *parts))

    # --- the JobStore protocol ---

    async def add(self, job: Job, admission: Admission) -> Job:
        stored, _ = await self.add_and_claim(job, admission, job.created_at, 0)
        return stored

    async def add_and_claim(self, job: Job, admission: Admission, now: float, limit: int) -> tuple[Job, list[Job]]:
        # The one script that may run twice: a second run finds the job's id and inserts nothing. So
        # a start right after a Redis restart (every pooled connection dead once) is not refused. Jobs
        # the lost first run claimed are then claims this instance does not know of: the lease loop
        # puts them back in the queue (release_stray_claims), as for a lost claim reply.
        with self._statuses.reading(job.id) as ticket:
            reply = await self._run_once_more(
                "add",
                job.id,
                job.client,
                job.idempotency_key or "",
                admission.per_client_limit,
                admission.max_pending,
                job.created_at + job.timeout_seconds,
                admission.reserve.results,
                admission.reserve.payloads,
                *admission.budget.limits(),
                limit,
                now,
                *encode_job(job),
            )
            if reply[0] == "added":
                self._statuses.keep(ticket, job, FIRST_REVISION)  # what add.lua wrote, and announced
        if reply[0] == "added":
            self._pending_seen.saw(int(reply[1]))  # add.lua counts the queue for its limit anyway
            self._attempts.remember_all(reply[2])
            return job, [decode_job(record) for record in reply[2]]
        if reply[0] == "replay":
            replayed = decode_job(reply[1])
            return (job if replayed.id == job.id else replayed), []  # the same id: this call inserted it
        if reply[0] == "client_limit":
            raise admission.client_limit_reached()
        if reply[0] == "store_full":
            raise admission.budget.refusal(int(reply[1]) - 1, int(reply[2]), admission.reserve)
        raise admission.queue_full()

    async def get(self, job_id: str) -> Job | None:
        with self._statuses.reading(job_id) as ticket:
            job, rev = await self._read_status(job_id)
            if job is not None:
                self._statuses.keep(ticket, job, rev)
        return job

    async def get_status(self, job_id: str) -> Job | None:
        cached = self._statuses.lookup(job_id) if self._statuses.live else None
        return cached if cached is not None else await self.get(job_id)

    async def _read_status(self, job_id: str) -> tuple[Job | None, int]:
        # Without the payload: a status poll of a pending 31 MiB job must not fetch and parse 31 MiB.
        values = await self._read(lambda: self._pipe.execute("HMGET", self.key("job", job_id), *_STATUS_READ))
        record = {name: str(value) for name, value in zip(_STATUS_READ, values, strict=True) if value is not None}
        if not record:
            return None, UNVERSIONED
        return decode_job(record), int(record.get("rev", UNVERSIONED))

    async def open_result(self, job: Job) -> StoredResult:
        if job.result_json is not None:
            return HeldResult(job.result_json)  # a record written before results had their own key
        key = self.key("result", job.id)
        # Most results are small: one GETRANGE fetches the whole of one, and its length says it was all.
        head = cast(bytes, await self._read(lambda: self._pipe_raw.execute("GETRANGE", key, 0, SMALL_RESULT_BYTES - 1)))
        if len(head) < SMALL_RESULT_BYTES:
            return HeldResult(head) if head else NULL_RESULT
        size = int(await self._read(lambda: self._pipe_raw.execute("STRLEN", key)))
        return self._result_of(job, head, size)

    async def deliver(self, job: Job, now: float) -> tuple[float, StoredResult] | None:
        with self._available():
            reply = await self._pipe_raw.evalsha(
                self._scripts["deliver"],
                self.prefix,
                self.instance_id,
                self._lease_ms,
                job.id,
                now,
                self._grace_ms,
                SMALL_RESULT_BYTES,
            )
        self._statuses.forget(job.id)  # the record changed, and the reply does not say into what
        if not reply:
            return None
        kept, head, size = reply
        return float(kept), self._result_of(job, head, int(size))

    def _result_of(self, job: Job, head: bytes, size: int) -> StoredResult:
        if job.result_json is not None:
            return HeldResult(job.result_json)  # a record written before results had their own key
        if size <= len(head):
            return HeldResult(head) if head else NULL_RESULT
        return RedisResult(self._raw, self.key("result", job.id), size, UNAVAILABLE_ERRORS)

    async def read_result(self, job_id: str) -> bytes | None:
        data = await self._read(lambda: self._raw.get(self.key("result", job_id)))
        return cast(bytes | None, data)  # the raw client does not decode, which its hints cannot say

    async def claim_next(self, now: float) -> Job | None:
        claimed = await self.claim_many(now, 1)
        return claimed[0] if claimed else None

    async def claim_many(self, now: float, limit: int) -> list[Job]:
        records = await self._run("claim", now, limit)
        self._attempts.remember_all(records)
        return [decode_job(record) for record in records]

    async def mark_running(self, job_id: str, now: float) -> Job | None:
        with self._statuses.reading(job_id) as ticket:
            reply = await self._run("mark_running", job_id, now, self._attempts.of(job_id))
            self._attempts.remember(reply)
            return self._kept(ticket, reply)

    async def set_progress(self, job_id: str, progress: int, message: str | None, now: float) -> Job | None:
        attempt = self._attempts.of(job_id)
        with self._statuses.reading(job_id) as ticket:
            return self._kept(ticket, await self._run("progress", job_id, int(progress), message or "", now, attempt))

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
        with self._statuses.reading(job_id) as ticket:
            reply = await self._run(
                "finish",
                job_id,
                status.value,
                message,
                now,
                *_optional(result_json),
                *_optional(error),
                self._retention_ms,
                reason or "",
                self._attempts.of(job_id),
                "" if started_at is None else started_at,
            )
            self._attempts.forget(job_id)  # landed or refused: this attempt is over either way
            job = self._kept(ticket, reply)
        if job is not None:
            job.result_json = result_json  # the record does not carry it (see open_result): the same bytes
        return job

    async def mark_delivered(self, job_id: str, now: float) -> float | None:
        kept = await self._run("deliver", job_id, now, self._grace_ms)
        self._statuses.forget(job_id)  # the record changed, and the reply does not say into what
        return float(kept) if kept else None

    async def delete(self, job_id: str) -> Job | None:
        self._attempts.forget(job_id)
        deleted = _job_or_none(await self._run("delete", job_id))
        self._statuses.forget(job_id)
        return deleted

    async def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        jobs: list[Job] = []
        cursor: int | None = 0
        while cursor is not None:
            page = await self.page_jobs(status, None, cursor, LIST_PAGE)
            jobs.extend(page.jobs)
            cursor = page.next_cursor
        return jobs

    async def page_jobs(self, status: JobStatus | None, client: str | None, cursor: int, limit: int) -> JobPage:
        records, next_cursor = await self._run(
            "list",
            status.value if status is not None else "",
            *_optional(client),
            cursor,
            limit,
            PAGE_SCAN_FACTOR * limit,
        )
        return JobPage([decode_job(record) for record in records], int(next_cursor) if next_cursor else None)

    async def counts(self, client: str | None = None) -> Counts:
        counted, result_bytes = await self._run("counts", *_optional(client))
        return counts_of(_counted(counted), int(result_bytes))

    async def result_bytes(self) -> int:
        held = await self._read(lambda: self._client.get(self.key("result_bytes")))
        return int(held or 0)

    async def pending_count(self, max_age: float = 0.0) -> int:
        if max_age > 0:
            seen = self._pending_seen.recent(max_age)
            if seen is not None:
                return seen
        count = int(await self._read(lambda: self._client.zcard(self.key("pending"))))
        self._pending_seen.saw(count)
        return count

    async def sweep(self, now: float, retention_seconds: float, grace_seconds: float) -> SweepReport:
        report = SweepReport()
        overdue = await self._run("expire_pending", now)
        self._attempts.remember_all(overdue)
        report.expired_pending = [decode_job(record) for record in overdue]
        with self._available():
            ids = set(cast(list[str], await self._client.zrange(self.key("finished"), 0, -1)))
            ids.update(cast(list[str], await self._client.zrange(self.key("delivered"), 0, -1)))
        for batch in _batches(sorted(ids), SWEEP_BATCH):
            finished, delivered = await self._run("sweep", now, retention_seconds, grace_seconds, *batch)
            report.removed_finished += int(finished)
            report.removed_delivered += int(delivered)
        return report

    async def heartbeat(self, now: float) -> None:
        with self._available():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self.key("lease", self.instance_id), repr(now), px=self._lease_ms)
                pipe.sadd(self.key("instances"), self.instance_id)
                await pipe.execute()

    async def orphans(self, now: float) -> list[Job]:
        records = await self._run("orphans")
        self._attempts.remember_all(records)
        return [decode_job(record) for record in records]

    async def requeue(self, job_id: str, now: float) -> Job | None:
        with self._statuses.reading(job_id) as ticket:
            reply = await self._run("requeue", job_id, now, self._attempts.of(job_id))
            self._attempts.forget(job_id)
            return self._kept(ticket, reply)

    async def release_stray_claims(self, known: list[str]) -> list[str]:
        """Put back in the queue the pending jobs claimed here that are not in `known` (a lost claim reply)."""
        released: list[str] = await self._run("stray_claims", *known)
        for job_id in released:
            self._attempts.forget(job_id)
        return released

    async def lost_claims(self, job_ids: list[str]) -> list[str]:
        """Those of `job_ids` whose attempt this instance no longer holds (taken over, requeued, gone)."""
        with self._available():
            async with self._client.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    pipe.hmget(self.key("job", job_id), "claimed_by", "attempt")
                replies = await pipe.execute()
        return self._attempts.lost(self.instance_id, dict(zip(job_ids, replies, strict=True)))

    async def publish(self, kind: str, job_id: str) -> None:
        with self._available():
            await self._client.publish(self.key("events"), json.dumps([kind, job_id]))

    async def events(self) -> AsyncIterator[tuple[str, str]]:
        # Never ends on a Redis outage: it resubscribes with backoff. Events published meanwhile are lost,
        # which listeners tolerate because they also poll the store on a timeout.
        pause = 0.1
        while True:
            # The subscription's confirmation is read too: the status cache answers only once Redis has
            # confirmed, as from then on every announcement reaches this instance.
            subscription = Subscription(self._client.connection_pool, self.key("events"))
            try:
                async for batch in subscription.batches():
                    for reply in batch:
                        if reply[0] == "subscribe":
                            pause = 0.1
                            self._statuses.went_live()
                            continue
                        event = _parse_event(reply)
                        if event is not None:
                            kind, job_id, rev = event
                            self._statuses.announced(job_id, rev)
                            yield kind, job_id
            except UNAVAILABLE_ERRORS as exc:
                log.warning("job events from Redis at %s interrupted (%s); resubscribing", self._where, exc)
            finally:
                self._statuses.lost()  # announcements may be missed from here on
                await subscription.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, EVENTS_BACKOFF_MAX_SECONDS)

    async def close(self) -> None:
        await self._pipe.aclose()
        await self._pipe_raw.aclose()
        await self._client.aclose()
        await self._raw.aclose()

    # --- helpers ---

    def _kept(self, ticket: Ticket, reply: Any) -> Job | None:
        """The job a write's reply gives (the record as the script left it), cached as a status read."""
        if not reply:
            return None
        record = pairs(reply)
        job = decode_job(record)
        self._statuses.keep(ticket, job, int(record.get("rev", UNVERSIONED)))
        return job

    async def _run(self, script: str, *args: str | bytes | int | float) -> Any:
        with self._available():
            return await self._pipe.evalsha(self._scripts[script], self.prefix, self.instance_id, self._lease_ms, *args)

    async def _run_once_more(self, script: str, *args: str | bytes | int | float) -> Any:
        """`_run` again on a dead pooled connection: only for a script that is safe to run twice."""
        with self._available():
            try:
                return await self._pipe.evalsha(
                    self._scripts[script], self.prefix, self.instance_id, self._lease_ms, *args
                )
            except RedisConnectionError:
                return await self._pipe.evalsha(
                    self._scripts[script], self.prefix, self.instance_id, self._lease_ms, *args
                )

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a read, once more on a dead pooled connection (after a Redis restart, each pooled
        connection fails on its first use): a read may run twice, unlike a script that writes."""
        with self._available():
            try:
                return await call()
            except RedisConnectionError:
                return await call()

    @contextmanager
    def _available(self) -> Iterator[None]:
        try:
            yield
        except UNAVAILABLE_ERRORS as exc:
            raise self.unavailable(exc) from exc


def _connect(url: str, socket_timeout: float, *, decode: bool) -> Redis:
    # No automatic retry: a script whose reply was lost must not run twice (a second claim, a
    # second insert). A dead pooled connection is replaced when it is next taken from the pool.
    return Redis.from_url(
        url,
        decode_responses=decode,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
    )


# A status read takes the record's revision too (lua/common.lua announce), for the status cache.
_STATUS_READ = (*STATUS_FIELDS, "rev")
# The revision add.lua's announcement gives a new record.
FIRST_REVISION = 1


def _job_or_none(reply: Any) -> Job | None:
    return decode_job(reply) if reply else None


def _counted(pairs: list[str]) -> Iterator[tuple[str, str, int]]:
    # The counters hash, flattened: "status\tendpoint", jobs, ...
    for field, jobs in zip(pairs[::2], pairs[1::2], strict=True):
        status, _, endpoint = field.partition("\t")
        yield status, endpoint, int(jobs)


def _optional(value: str | bytes | None) -> tuple[str, str | bytes]:
    # Lua cannot tell a missing argument from an empty one: a flag says whether the value is there.
    return ("0", "") if value is None else ("1", value)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse_event(reply: list[Any]) -> tuple[str, str, int] | None:
    # ["message", channel, data]; data is [kind, id, revision] from a script, [kind, id] from `publish`
    # (and from instances before revisions).
    if len(reply) != 3 or reply[0] != "message":
        return None
    try:
        kind, job_id, *rest = json.loads(reply[2])
        rev = int(rest[0]) if rest else UNVERSIONED
    except (TypeError, ValueError, IndexError):
        log.warning("ignoring a malformed job event: %r", reply[2])
        return None
    return str(kind), str(job_id), rev
