"""The numbers behind GET /api/v1/jobs/stats."""

from __future__ import annotations

import contextlib
from typing import Any

import psutil

from jobs.estimates import summarize
from jobs.figures import Figures
from jobs.model import Job, JobStatus
from jobs.service import JobService
from jobs.store import Counts

# The durations of one client's stats are read from at most this many of its completed jobs (one page):
# enough for stable percentiles, while the stats stay O(1) in the jobs held.
OWN_DURATION_SAMPLES = 200


async def build_stats(service: JobService, owner: str | None = None) -> dict[str, Any]:
    """The design's counts, plus durations, failure rates, workers and memory.

    Workers, finished counts, failure rates and durations are the fleet's when instances share a store.
    With an `owner`, the job counts and the per-endpoint outcomes are that client's own (from the store's
    counters, over its jobs still held), and its durations come from its oldest OWN_DURATION_SAMPLES
    completed jobs held; the queue, workers and memory are shared figures.
    """
    counts = await service.counts()
    paths = [endpoint.path for endpoint in service.registry]
    figures = await service.figures.snapshot(paths)
    status_counts, endpoint_counts = counts.by_status, counts.by_endpoint
    endpoints = _endpoint_stats(figures)
    if owner is not None:
        own = await service.counts(owner)
        status_counts, endpoint_counts = own.by_status, own.by_endpoint
        completed = await service.page_jobs(JobStatus.COMPLETED, owner, 0, OWN_DURATION_SAMPLES)
        endpoints = _endpoint_stats(_own_figures(figures, own, completed.jobs, paths))
    by_status = {
        status: status_counts.get(status, 0) for status in ("pending", "running", "completed", "failed", "expired")
    }
    return {
        "total_jobs": sum(status_counts.values()),
        "by_status": by_status,
        "by_endpoint": endpoint_counts,
        "active_jobs": by_status["pending"] + by_status["running"],
        "pending_queue": await service.pending_count(),
        "workers": {"total": figures.workers_total, "busy": figures.workers_busy},
        "endpoints": endpoints,
        "memory": _memory(service, counts.result_bytes),
    }


def _endpoint_stats(figures: Figures) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for path, outcomes in figures.finished.items():
        total = sum(outcomes.values())
        failures = outcomes.get("failed", 0) + outcomes.get("expired", 0)
        stats[path] = {
            "finished": outcomes,
            "failure_rate": round(failures / total, 4) if total else None,
            "duration_seconds": figures.durations.get(path),
        }
    return stats


def _own_figures(shared: Figures, own: Counts, completed: list[Job], paths: list[str]) -> Figures:
    # Another client's failures and durations say what it sends and how often it fails: a client key
    # sees only figures computed from its own jobs: outcomes from its counters, durations from a sample.
    finished: dict[str, dict[str, int]] = {path: {} for path in paths}
    for path, outcomes in own.by_endpoint_status.items():
        if path in finished:
            finished[path] = {status: n for status, n in outcomes.items() if not JobStatus(status).is_active}
    durations: dict[str, list[float]] = {path: [] for path in paths}
    for job in completed:
        if job.endpoint in durations and job.duration_seconds is not None:
            durations[job.endpoint].append(job.duration_seconds)
    summaries = {path: summarize(samples) for path, samples in durations.items()}
    return Figures(shared.workers_total, shared.workers_busy, finished, summaries)


def _memory(service: JobService, result_bytes: int) -> dict[str, Any]:
    workers = {}
    for pid in service.worker_pids():
        with contextlib.suppress(psutil.Error):
            workers[str(pid)] = psutil.Process(pid).memory_info().rss
    return {
        "store_result_bytes": result_bytes,
        "server_rss_bytes": psutil.Process().memory_info().rss,
        "worker_rss_bytes": workers,
    }
