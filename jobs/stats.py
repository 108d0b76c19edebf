"""The numbers behind GET /api/v1/jobs/stats."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import psutil

from jobs.figures import Figures
from jobs.service import JobService


async def build_stats(service: JobService, owner: str | None = None) -> dict[str, Any]:
    """The design's counts, plus durations, failure rates, workers and memory.

    Workers, finished counts, failure rates and durations are the fleet's when instances share a store.

    With an `owner`, the job counts are that client's own; the queue, workers and memory are shared.
    """
    counts = await service.counts()
    figures = await service.figures.snapshot([endpoint.path for endpoint in service.registry])
    status_counts, endpoint_counts = counts.by_status, counts.by_endpoint
    if owner is not None:
        own = await service.list_jobs(None, owner)
        status_counts = dict(Counter(job.status.value for job in own))
        endpoint_counts = dict(Counter(job.endpoint for job in own))
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
        "endpoints": _endpoint_stats(figures),
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
