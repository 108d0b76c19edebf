"""The service-wide figures behind /jobs/stats and estimates: workers, finished counts and durations.

One instance alone reports its own (`LocalFigures`); instances sharing a Redis store report the
whole fleet's, kept in Redis (`jobs.store.redis_figures.RedisFigures`), so every instance says the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from jobs.estimates import DurationEstimator
from jobs.runner import JobRunner


@dataclass(frozen=True, slots=True)
class Figures:
    """Workers and per-endpoint outcomes at one moment, for the instance or the whole fleet."""

    workers_total: int
    workers_busy: int
    finished: dict[str, dict[str, int]]  # endpoint -> final status -> jobs
    durations: dict[str, dict[str, float] | None]  # endpoint -> p50/p90/p99/mean/samples, None unmeasured


class FleetFigures(Protocol):
    """Where the stats read workers, outcomes and durations from."""

    async def snapshot(self, endpoints: list[str]) -> Figures:
        """The current figures for these endpoints."""

    def workers_total(self) -> int:
        """Worker slots serving this instance's queue (the last known figure; never waits)."""


class LocalFigures:
    """This instance's own figures, for a store nobody else shares."""

    def __init__(self, runner: JobRunner, estimator: DurationEstimator, finished: Counter[tuple[str, str]]) -> None:
        self._runner = runner
        self._estimator = estimator
        self._finished = finished

    async def snapshot(self, endpoints: list[str]) -> Figures:
        """This instance's workers, finished counts and durations."""
        finished: dict[str, dict[str, int]] = {path: {} for path in endpoints}
        for (path, status), count in self._finished.items():
            if path in finished:
                finished[path][status] = count
        durations = {path: self._estimator.percentiles(path) for path in endpoints}
        return Figures(self._runner.total_workers, self._runner.busy_workers, finished, durations)

    def workers_total(self) -> int:
        """This instance's worker slots."""
        return self._runner.total_workers
