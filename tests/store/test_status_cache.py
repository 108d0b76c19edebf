"""The status cache: the rules that keep a cached status from being older than what was announced."""

from __future__ import annotations

import pytest

from jobs.model import Job, JobStatus
from jobs.store.status_cache import UNVERSIONED, StatusCache
from tests.store.helpers import make_job


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def live_cache(**kwargs: object) -> StatusCache:
    cache = StatusCache(**kwargs)  # type: ignore[arg-type]
    cache.went_live()
    return cache


def cached(cache: StatusCache, job: Job, rev: int) -> None:
    with cache.reading(job.id) as ticket:
        cache.keep(ticket, job, rev)


def test_a_kept_record_answers_as_a_copy_without_payload_or_result() -> None:
    cache = live_cache()
    job = make_job()
    job.result_json = b'{"big": 1}'
    job.extra = {"pages": 1}
    cached(cache, job, 3)
    job.extra["pages"] = 2  # the writer changes its own job afterwards
    first = cache.lookup(job.id)
    assert first is not None
    assert (first.id, first.status, first.payload, first.result_json) == (job.id, JobStatus.PENDING, {}, None)
    first.delivered_at = 5.0  # a caller changes its copy
    first.extra["pages"] = 3
    second = cache.lookup(job.id)
    assert second is not None and second.delivered_at is None and second.extra == {"pages": 1}
    assert job.payload and job.result_json  # the caller's job is left as it was


def test_a_read_overtaken_by_a_newer_announcement_is_not_kept() -> None:
    cache = live_cache()
    job = make_job()
    with cache.reading(job.id) as ticket:
        cache.announced(job.id, 5)  # the write after the read: its announcement came first
        cache.keep(ticket, job, 4)
    assert cache.lookup(job.id) is None


def test_a_read_of_the_announced_revision_is_kept() -> None:
    cache = live_cache()
    job = make_job()
    with cache.reading(job.id) as ticket:
        cache.announced(job.id, 4)  # the announcement of the very change this reply shows
        cache.keep(ticket, job, 4)
    assert cache.lookup(job.id) is not None


def test_an_announcement_drops_older_entries_only() -> None:
    cache = live_cache()
    job = make_job()
    cached(cache, job, 4)
    cache.announced(job.id, 4)  # its own announcement, arriving after the reply
    assert cache.lookup(job.id) is not None
    cache.announced(job.id, 3)  # a late one of an earlier change
    assert cache.lookup(job.id) is not None
    cache.announced(job.id, 5)
    assert cache.lookup(job.id) is None


def test_an_unversioned_announcement_drops_the_entry_and_every_read_in_flight() -> None:
    cache = live_cache()
    job, other = make_job(), make_job()
    cached(cache, job, 4)
    cache.announced(job.id, UNVERSIONED)
    assert cache.lookup(job.id) is None
    with cache.reading(other.id) as ticket:
        cache.announced(other.id, UNVERSIONED)  # a removal, or a publish from Python
        cache.keep(ticket, other, 10**9)
    assert cache.lookup(other.id) is None


def test_an_older_reply_does_not_replace_a_newer_entry() -> None:
    cache = live_cache()
    job = make_job()
    with cache.reading(job.id) as slow:
        newer = make_job()
        newer.id, newer.status = job.id, JobStatus.RUNNING
        cached(cache, newer, 6)
        cache.keep(slow, job, 5)
    answer = cache.lookup(job.id)
    assert answer is not None and answer.status is JobStatus.RUNNING


def test_nothing_is_kept_or_answered_unless_announcements_are_known_to_arrive() -> None:
    cache = StatusCache()
    job = make_job()
    cached(cache, job, 1)
    assert cache.lookup(job.id) is None and not cache.live
    cache.went_live()
    cached(cache, job, 1)
    assert cache.lookup(job.id) is not None
    cache.lost()
    assert cache.lookup(job.id) is None and len(cache) == 0


def test_a_read_begun_before_a_resubscription_is_not_kept() -> None:
    cache = live_cache()
    job = make_job()
    with cache.reading(job.id) as ticket:
        cache.lost()  # announcements in between are gone: this reply may be older than one of them
        cache.went_live()
        cache.keep(ticket, job, 1)
    assert cache.lookup(job.id) is None


def test_an_entry_answers_for_its_time_to_live_only() -> None:
    clock = FakeClock()
    cache = live_cache(ttl=0.5, clock=clock)
    job = make_job()
    cached(cache, job, 1)
    clock.now += 0.5
    assert cache.lookup(job.id) is not None
    clock.now += 0.01
    assert cache.lookup(job.id) is None
    assert len(cache) == 0


def test_an_entry_answers_while_a_write_is_in_flight_until_it_is_forgotten() -> None:
    cache = live_cache()
    job = make_job()
    cached(cache, job, 1)
    with cache.reading(job.id):
        assert cache.lookup(job.id) is not None  # the write has not completed until its reply
    cache.forget(job.id)  # a reply that does not say what the record became
    assert cache.lookup(job.id) is None


def test_the_least_recently_kept_entries_go_first_past_the_capacity() -> None:
    cache = live_cache(capacity=2)
    jobs = [make_job() for _ in range(3)]
    for job in jobs:
        cached(cache, job, 1)
    assert [cache.lookup(job.id) is not None for job in jobs] == [False, True, True]


def test_negative_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        StatusCache(capacity=-1)
    with pytest.raises(ValueError):
        StatusCache(ttl=-1.0)
