"""The numbers behind GET /api/v1/jobs/stats."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import psutil

from jobs.service import JobService


async def build_stats(service: JobService, owner: str | None = None) -> dict[str, Any]:
    """The design's counts, plus durations, failure rates, workers and memory.

    With an `owner`, the job counts are that client's own; the queue, workers and memory are shared.
    """
    counts = await service.counts()
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
        "workers": {"total": service.total_workers, "busy": service.busy_workers},
        "endpoints": _endpoint_stats(service),
        "memory": _memory(service, counts.result_bytes),
    }


def _endpoint_stats(service: JobService) -> dict[str, Any]:
    finished = service.finished_by_endpoint
    stats: dict[str, Any] = {}
    for endpoint in service.registry:
        outcomes = {status: count for (path, status), count in finished.items() if path == endpoint.path}
        total = sum(outcomes.values())
        failures = outcomes.get("failed", 0) + outcomes.get("expired", 0)
        stats[endpoint.path] = {
            "finished": outcomes,
            "failure_rate": round(failures / total, 4) if total else None,
            "duration_seconds": service.estimator.percentiles(endpoint.path),
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
