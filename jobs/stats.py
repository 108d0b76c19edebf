"""The numbers behind GET /api/v1/jobs/stats."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import psutil

from jobs.estimates import DurationEstimator
from jobs.model import Job, JobStatus
from jobs.service import JobService


async def build_stats(service: JobService, owner: str | None = None) -> dict[str, Any]:
    """The design's counts, plus durations, failure rates, workers and memory.

    With an `owner`, the job counts and the per-endpoint outcomes and durations are that client's own
    (from its jobs still held); the queue, workers and memory are shared figures.
    """
    counts = await service.counts()
    status_counts, endpoint_counts = counts.by_status, counts.by_endpoint
    endpoints = _endpoint_stats(service)
    if owner is not None:
        own = await service.list_jobs(None, owner)
        status_counts = dict(Counter(job.status.value for job in own))
        endpoint_counts = dict(Counter(job.endpoint for job in own))
        endpoints = _own_endpoint_stats(service, own)
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
        "endpoints": endpoints,
        "memory": _memory(service, counts.result_bytes),
    }


def _endpoint_stats(service: JobService) -> dict[str, Any]:
    return _summarize(service, service.finished_by_endpoint, service.estimator)


def _summarize(service: JobService, finished: Counter[tuple[str, str]], durations: DurationEstimator) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for endpoint in service.registry:
        outcomes = {status: count for (path, status), count in finished.items() if path == endpoint.path}
        total = sum(outcomes.values())
        failures = outcomes.get("failed", 0) + outcomes.get("expired", 0)
        stats[endpoint.path] = {
            "finished": outcomes,
            "failure_rate": round(failures / total, 4) if total else None,
            "duration_seconds": durations.percentiles(endpoint.path),
        }
    return stats


def _own_endpoint_stats(service: JobService, own: list[Job]) -> dict[str, Any]:
    # Another client's failures and durations say what it sends and how often it fails: a client key
    # sees only figures computed from its own jobs.
    durations = DurationEstimator()
    finished: Counter[tuple[str, str]] = Counter()
    for job in own:
        if not job.status.is_active:
            finished[(job.endpoint, job.status.value)] += 1
        if job.status is JobStatus.COMPLETED and job.duration_seconds is not None:
            durations.record(job.endpoint, job.duration_seconds)
    return _summarize(service, finished, durations)


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
