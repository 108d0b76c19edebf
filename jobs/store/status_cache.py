"""Status reads of one instance answered from memory, kept true by the store's own announcements.

On Redis a client polling a job costs a round trip per poll on the API's event loop, and under load a
job is polled several times between two of its changes. Every write a status read can see bumps the
record's revision (`rev`) and announces it in the same script (lua/common.lua `changed`), so an
instance may answer from the last record it read or wrote until an announcement names a newer
revision. Three rules keep a cached answer from ever being older than what the instance was told:

- a read (or a write's reply) is kept only if no newer revision of that job was announced while it was
  in flight: the announcement and the reply travel on different connections, in no set order;
- the cache answers only while the announcements are known to arrive (subscribed, confirmed), and is
  emptied when the subscription is lost: announcements published meanwhile are gone;
- an entry lives at most `ttl` seconds: a record removed without an announcement (its retention expiry
  is a Redis TTL) is not reported for longer than that.

What stays possible is the lag of any snapshot: a change made on another instance is seen here once its
announcement has arrived (about a round trip). Results, deliveries and deletions always read Redis.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from jobs.model import Job

# Entries kept at most: status records without payloads, about a kilobyte each.
DEFAULT_CAPACITY = 4096
# How long an entry may answer: the bound on a record removed without an announcement.
DEFAULT_TTL_SECONDS = 0.5
# An announcement without a revision (an older instance's, or one published from Python) supersedes any.
UNVERSIONED = 0


@dataclass(slots=True)
class _Entry:
    job: Job
    rev: int
    stored_at: float


class Ticket:
    """One read or write in flight for a job: the newest revision announced for the job meanwhile."""

    __slots__ = ("generation", "job_id", "newest_announced")

    def __init__(self, job_id: str, generation: int) -> None:
        self.job_id = job_id
        self.generation = generation
        self.newest_announced = -1  # none yet

    def saw(self, rev: int) -> None:
        self.newest_announced = max(self.newest_announced, rev if rev != UNVERSIONED else _NEWEST)


_NEWEST = 2**63  # what an unversioned announcement counts as: newer than any record read


class StatusCache:
    """Job records (without payload) by id, each with the revision it was read at."""

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 0 or ttl < 0:
            raise ValueError("capacity and ttl must not be negative")
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._in_flight: dict[str, list[Ticket]] = {}
        self._live = False
        self._generation = 0

    @property
    def live(self) -> bool:
        """Whether announcements are known to arrive, so entries may answer."""
        return self._live

    @property
    def generation(self) -> int:
        """Counts the starts and losses of the subscription (observable by tests and tooling)."""
        return self._generation

    def __len__(self) -> int:
        return len(self._entries)

    def went_live(self) -> None:
        """The subscription is confirmed: every announcement from now on arrives."""
        self._entries.clear()
        self._generation += 1
        self._live = True

    def lost(self) -> None:
        """The subscription is gone (or never was): answer nothing, keep nothing, until it is back."""
        self._entries.clear()
        self._generation += 1
        self._live = False

    def lookup(self, job_id: str) -> Job | None:
        """A copy of the cached record, or None when it must be read."""
        entry = self._entries.get(job_id)
        if entry is None:
            return None
        if self._clock() - entry.stored_at > self._ttl:
            del self._entries[job_id]
            return None
        return replace(entry.job, extra=dict(entry.job.extra))  # the caller may change its copy

    def announced(self, job_id: str, rev: int) -> None:
        """An instance announced revision `rev` of the job (UNVERSIONED: some newer one)."""
        for ticket in self._in_flight.get(job_id, ()):
            ticket.saw(rev)
        entry = self._entries.get(job_id)
        if entry is not None and (rev == UNVERSIONED or entry.rev < rev):
            del self._entries[job_id]

    def forget(self, job_id: str) -> None:
        """This instance changed the job and has no record of the result to keep."""
        self._entries.pop(job_id, None)

    @contextmanager
    def reading(self, job_id: str) -> Iterator[Ticket]:
        """Around a read or write of the job: `keep` its reply with the ticket this yields.

        While a write is in flight the entry still answers: the write has not completed until its
        reply, and its announcement, if that comes first, drops the entry.
        """
        ticket = Ticket(job_id, self._generation)
        tickets = self._in_flight.setdefault(job_id, [])
        tickets.append(ticket)
        try:
            yield ticket
        finally:
            tickets.remove(ticket)
            if not tickets:
                del self._in_flight[job_id]

    def keep(self, ticket: Ticket, job: Job, rev: int) -> None:
        """Cache the record read at revision `rev`, unless a newer one was announced meanwhile."""
        if not self._live or ticket.generation != self._generation or ticket.newest_announced > rev:
            return
        if rev <= UNVERSIONED or self._capacity == 0:
            return  # a record without a revision (written before revisions) cannot be checked
        entry = self._entries.get(ticket.job_id)
        if entry is not None and entry.rev > rev:
            return
        copy = replace(job, payload={}, result_json=None, extra=dict(job.extra))  # the caller keeps its job
        self._entries[ticket.job_id] = _Entry(copy, rev, self._clock())
        self._entries.move_to_end(ticket.job_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
