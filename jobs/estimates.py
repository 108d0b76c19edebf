"""Estimated job durations, learned from the durations each endpoint has actually taken."""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.pool.executor import Task

SAMPLES_KEPT = 100  # enough for stable percentiles, small enough to follow a change in workload
# A summary is sorted afresh after this many new samples, not after each one: at a thousand short
# jobs a second, sorting on every job would cost more than the jobs' own bookkeeping.
RESUMMARIZE_EVERY = 10
# A job may wait inside a busy worker, behind the ones it holds, only when they are expected to be
# done within this long: short jobs then never wait for the event loop, and a long job never holds
# another one hostage.
QUEUE_BEHIND_MAX_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Estimate:
    """A range of seconds until a new job is likely to be done."""

    low_seconds: float
    high_seconds: float
    based_on_samples: int

    def describe(self) -> str:
        """Human text, as the design shows it: '30-60 seconds'."""
        low, high = math.floor(self.low_seconds), math.ceil(self.high_seconds)
        if high <= 1:
            return "under 1 second"
        if high >= 120:
            return f"{max(1, round(low / 60))}-{math.ceil(high / 60)} minutes"
        return f"{low}-{high} seconds"


class DurationEstimator:
    """Keeps recent run times per endpoint and turns them, plus the queue ahead, into an estimate."""

    def __init__(self) -> None:
        self._durations: dict[str, deque[float]] = {}
        self._summaries: dict[str, dict[str, float]] = {}  # computed on demand
        self._unsummarized: dict[str, int] = {}  # samples recorded since the endpoint's summary

    def record(self, endpoint: str, seconds: float) -> None:
        """Remember how long one successful job of this endpoint ran."""
        samples = self._durations.setdefault(endpoint, deque(maxlen=SAMPLES_KEPT))
        samples.append(max(0.0, seconds))
        fresh = self._unsummarized.get(endpoint, 0) + 1
        if fresh >= RESUMMARIZE_EVERY or len(samples) <= RESUMMARIZE_EVERY:
            self._summaries.pop(endpoint, None)
            fresh = 0
        self._unsummarized[endpoint] = fresh

    def percentiles(self, endpoint: str) -> dict[str, float] | None:
        """p50/p90/p99 of recent durations, or None with no samples yet."""
        summary = self._summaries.get(endpoint)
        if summary is None:
            summary = self._summarize(endpoint)
            if summary is None:
                return None
            self._summaries[endpoint] = summary
        return summary

    def _summarize(self, endpoint: str) -> dict[str, float] | None:
        return summarize(self._durations.get(endpoint, ()))

    def replace(self, endpoint: str, samples: Sequence[float]) -> None:
        """Adopt these recent durations (the whole fleet's, newest last) as the endpoint's samples."""
        kept = self._durations.setdefault(endpoint, deque(maxlen=SAMPLES_KEPT))
        kept.clear()
        kept.extend(max(0.0, seconds) for seconds in samples[-SAMPLES_KEPT:])
        self._summaries.pop(endpoint, None)
        self._unsummarized[endpoint] = 0

    def estimate(self, endpoint: str, fallback_seconds: float, jobs_ahead: int, workers: int) -> Estimate:
        """From recent p50..p90, or `fallback` (as fallback/2..fallback) before any sample; plus queueing."""
        stats = self.percentiles(endpoint)
        if stats is None:
            low, high, count = fallback_seconds / 2, fallback_seconds, 0
        else:
            low, high, count = stats["p50"], stats["p90"], int(stats["samples"])
        # Jobs ahead in the queue run `workers` at a time, each taking about the typical duration.
        waiting = (jobs_ahead / max(1, workers)) * (low if count else fallback_seconds / 2)
        return Estimate(low + waiting, high + waiting, count)


def summarize(durations: Iterable[float]) -> dict[str, float] | None:
    """p50/p90/p99, mean and count of these durations, or None when there are none."""
    samples = sorted(durations)
    if not samples:
        return None
    return {
        "p50": _percentile(samples, 0.50),
        "p90": _percentile(samples, 0.90),
        "p99": _percentile(samples, 0.99),
        "mean": statistics.fmean(samples),
        "samples": len(samples),
    }


def _percentile(sorted_samples: list[float], fraction: float) -> float:
    index = min(len(sorted_samples) - 1, max(0, math.ceil(fraction * len(sorted_samples)) - 1))
    return sorted_samples[index]


def may_wait_behind(ahead: Sequence[Task], typical_seconds: Callable[[str], float | None], now: float) -> bool:
    """Whether a job may wait in a worker behind the tasks `ahead` of it there.

    Only when each of them is quick (its endpoint's recent p90, from `typical_seconds`, is within
    QUEUE_BEHIND_MAX_SECONDS; None means never measured), none has already run that long, and all of
    them together are expected to be done within QUEUE_BEHIND_MAX_SECONDS.
    """
    expected_wait = 0.0
    for task in ahead:
        typical = typical_seconds(task.job.endpoint)
        if typical is None or typical > QUEUE_BEHIND_MAX_SECONDS:
            return False
        ran = 0.0 if task.started_at is None else now - task.started_at
        if ran >= QUEUE_BEHIND_MAX_SECONDS:
            return False  # slower than its history says: maybe stuck
        expected_wait += max(0.0, typical - ran)
    return expected_wait <= QUEUE_BEHIND_MAX_SECONDS
