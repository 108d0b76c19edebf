"""The numbers behind GET /api/v1/jobs/stats."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import psutil

from jobs.estimates import summarize
from jobs.figures import Figures
from jobs.model import Job, JobStatus
from jobs.service import JobService


async def build_stats(service: JobService, owner: str | None = None) -> dict[str, Any]:
    """The design's counts, plus durations, failure rates, workers and memory.

    Workers, finished counts, failure rates and durations are the fleet's when instances share a store.
    With an `owner`, the job counts and the per-endpoint outcomes and durations are that client's own
    (from its jobs still held); the queue, workers and memory are shared figures.
    """
    counts = await service.counts()
    paths = [endpoint.path for endpoint in service.registry]
    figures = await service.figures.snapshot(paths)
    status_counts, endpoint_counts = counts.by_status, counts.by_endpoint
    endpoints = _endpoint_stats(figures)
    if owner is not None:
        own = await service.list_jobs(None, owner)
        status_counts = dict(Counter(job.status.value for job in own))
        endpoint_counts = dict(Counter(job.endpoint for job in own))
        endpoints = _endpoint_stats(_own_figures(figures, own, paths))
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


def _own_figures(shared: Figures, own: list[Job], paths: list[str]) -> Figures:
    # Another client's failures and durations say what it sends and how often it fails: a client key
    # sees only figures computed from its own jobs.
    finished: dict[str, dict[str, int]] = {path: {} for path in paths}
    durations: dict[str, list[float]] = {path: [] for path in paths}
    for job in own:
        if job.endpoint not in finished:
            continue
        if not job.status.is_active:
            outcomes = finished[job.endpoint]
            outcomes[job.status.value] = outcomes.get(job.status.value, 0) + 1
        if job.status is JobStatus.COMPLETED and job.duration_seconds is not None:
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
