"""Prometheus metrics: counted from job events in the server process, gauges read at scrape time.

Counters and histograms are fed by the job system's observer hooks, so they are right however many
worker processes there are (the workers never touch them). Gauges are computed when scraped, from the
store, the runner and the operating system, so they are never stale.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import psutil
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from jobs.model import Job, JobStatus
from jobs.service import JobService

T = TypeVar("T")

# Job run and wait times: from a few-millisecond echo to the 5-minute default limit and twice that.
JOB_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# Most answers take about a millisecond; long polls hold up to 30 s, direct calls wait for their job.
HTTP_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

FINAL_STATUSES = tuple(s.value for s in JobStatus if not s.is_active)
# The error codes (jobs.errors) of requests refused before a job exists: the `reason` label's values.
REJECTION_REASONS = (
    "invalid_json",
    "invalid_request",
    "invalid_payload",
    "endpoint_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "too_many_jobs",
    "queue_full",
    "store_full",
    "store_unavailable",
    "shutting_down",
    "other",
)
# JobService.sweep's summary keys, and the `reason` label each one is counted under.
SWEEP_REASONS = {"removed_finished": "finished", "removed_delivered": "delivered", "expired_pending": "expired_pending"}
# Any other method (HTTP allows arbitrary tokens) is counted as "other", keeping the label bounded.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"


class JobMetrics:
    """The service's counters and histograms, in a registry of its own (one per application)."""

    def __init__(self, endpoints: Iterable[str]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.started = Counter(
            "docjobs_jobs_started", "Jobs accepted and queued, by endpoint", ["endpoint"], registry=r
        )
        self.finished = Counter(
            "docjobs_jobs_finished", "Jobs that reached a final status, by endpoint", ["endpoint", "status"], registry=r
        )
        self.rejected_requests = Counter(
            "docjobs_jobs_rejected", "Job requests refused before a job existed, by reason", ["reason"], registry=r
        )
        self.duration = Histogram(
            "docjobs_job_duration_seconds",
            "Run time of finished jobs, from start in a worker to final status",
            ["endpoint"],
            buckets=JOB_SECONDS_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "docjobs_job_queue_wait_seconds",
            "Time from a job's creation to its start in a worker",
            ["endpoint"],
            buckets=JOB_SECONDS_BUCKETS,
            registry=r,
        )
        self.http = Histogram(
            "docjobs_http_request_duration_seconds",
            "HTTP request latency by route template, method and status class",
            ["route", "method", "status"],
            buckets=HTTP_SECONDS_BUCKETS,
            registry=r,
        )
        self._http_children: dict[tuple[str, str, int], Histogram] = {}
        self._endpoint_series: dict[str, _EndpointSeries] = {}
        self.sweeps = Counter("docjobs_cleanup_sweeps", "Cleanup sweeps run", registry=r)
        self.swept = Counter(
            "docjobs_cleanup_removed", "Jobs removed or expired by cleanup sweeps, by reason", ["reason"], registry=r
        )
        ProcessCollector(registry=r)
        # Every bounded label value is there from the start, so rate() and absent() work from scrape one.
        for endpoint in endpoints:
            self.started.labels(endpoint)
            for status in FINAL_STATUSES:
                self.finished.labels(endpoint, status)
        for reason in REJECTION_REASONS:
            self.rejected_requests.labels(reason)
        for reason in SWEEP_REASONS.values():
            self.swept.labels(reason)

    def attach(self, service: JobService) -> None:
        """Start counting the service's job events."""
        service.on_created.append(self.job_created)
        service.on_sweep.append(self.sweep_done)
        service.on_started.append(self.job_started)
        service.on_finished.append(self.job_finished)

    def detach(self, service: JobService) -> None:
        """Stop counting the service's job events."""
        _unhook(service.on_created, self.job_created)
        _unhook(service.on_sweep, self.sweep_done)
        _unhook(service.on_started, self.job_started)
        _unhook(service.on_finished, self.job_finished)

    def _series(self, endpoint: str) -> _EndpointSeries:
        # As for the HTTP children: labels() validates and locks on every call, four times per job;
        # the endpoints are the registered ones, so each one's series are looked up once.
        series = self._endpoint_series.get(endpoint)
        if series is None:
            series = self._endpoint_series[endpoint] = _EndpointSeries(
                self.started.labels(endpoint),
                self.queue_wait.labels(endpoint),
                self.duration.labels(endpoint),
                {status: self.finished.labels(endpoint, status) for status in FINAL_STATUSES},
            )
        return series

    def job_created(self, job: Job) -> None:
        """A job was accepted."""
        self._series(job.endpoint).started.inc()

    def job_started(self, job: Job) -> None:
        """A worker began a job."""
        if job.started_at is not None:
            self._series(job.endpoint).queue_wait.observe(max(0.0, job.started_at - job.created_at))

    def job_finished(self, job: Job) -> None:
        """A job reached its final status."""
        series = self._series(job.endpoint)
        series.finished[job.status.value].inc()
        duration = job.duration_seconds
        if duration is not None:  # a job that expired while pending never ran
            series.duration.observe(max(0.0, duration))

    def sweep_done(self, summary: dict[str, int]) -> None:
        """A cleanup sweep ran."""
        self.sweeps.inc()
        for key, reason in SWEEP_REASONS.items():
            if summary.get(key):
                self.swept.labels(reason).inc(summary[key])

    def rejected(self, reason: str) -> None:
        """A job request was refused with this error code."""
        self.rejected_requests.labels(reason if reason in REJECTION_REASONS else "other").inc()

    def request_served(self, route: str | None, method: str, status: int, seconds: float) -> None:
        """One HTTP request: `route` is the matched template (None when no route matched)."""
        key = (route or UNMATCHED_ROUTE, method if method in HTTP_METHODS else "other", status // 100)
        child = self._http_children.get(key)
        if child is None:
            # labels() validates and takes a lock on every call; the label sets are few and bounded
            # (route templates, methods, status classes), so each child is looked up once.
            child = self._http_children[key] = self.http.labels(key[0], key[1], f"{key[2]}xx")
        child.observe(seconds)

    async def scrape(self, service: JobService) -> Collector:
        """Everything to expose now: the counters, plus gauges read from the service at this moment."""
        return _Scrape(self.registry, await read_gauges(service))


@dataclass(frozen=True, slots=True)
class _EndpointSeries:
    """One endpoint's labelled counters and histograms."""

    started: Counter
    queue_wait: Histogram
    duration: Histogram
    finished: dict[str, Counter]  # by final status


@dataclass(frozen=True, slots=True)
class _Scrape:
    registry: CollectorRegistry
    gauges: list[Metric]

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        yield from self.gauges


async def read_gauges(service: JobService) -> list[Metric]:
    """Jobs by status, queue depth, worker slots, store bytes, and server and worker memory, right now."""
    counts = await service.counts()
    jobs = GaugeMetricFamily("docjobs_jobs", "Jobs held right now, by status", labels=["status"])
    for status in JobStatus:
        jobs.add_metric([status.value], counts.by_status.get(status.value, 0))
    worker_rss = GaugeMetricFamily(
        "docjobs_worker_resident_memory_bytes",
        "Resident memory of each live worker process, by slot position (0 to workers-1)",
        labels=["worker"],
    )
    for slot, pid in enumerate(service.worker_pids()):
        rss = _rss(pid)
        if rss is not None:
            worker_rss.add_metric([str(slot)], rss)
    return [
        jobs,
        GaugeMetricFamily(
            "docjobs_queue_pending_jobs", "Jobs waiting for a worker", value=await service.pending_count()
        ),
        GaugeMetricFamily("docjobs_worker_slots", "Worker processes in the pool", value=service.total_workers),
        GaugeMetricFamily("docjobs_worker_slots_busy", "Worker processes running a job", value=service.busy_workers),
        GaugeMetricFamily(
            "docjobs_store_result_bytes", "Bytes of job results held by the store", value=counts.result_bytes
        ),
        GaugeMetricFamily(
            "docjobs_server_resident_memory_bytes",
            "Resident memory of the server process",
            value=psutil.Process().memory_info().rss,
        ),
        worker_rss,
    ]


def _unhook(hooks: list[T], callback: T) -> None:
    with contextlib.suppress(ValueError):
        hooks.remove(callback)


def _rss(pid: int) -> int | None:
    try:
        rss: int = psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return None  # the worker exited between the listing and the read
    return rss
