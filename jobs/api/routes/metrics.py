"""GET /metrics, and the middleware that counts HTTP latency and refused job requests.

The job counters are fed by the job system itself (`jobs.system.job_system` attaches app[METRICS]
to the service), so nothing here depends on the order the app's parts are set up in.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client.exposition import choose_encoder

from jobs.api.errors import ERROR_CODE, Handler
from jobs.api.keys import METRICS, REGISTRY, SERVICE
from jobs.api.views import JOBS
from jobs.metrics import JobMetrics
from jobs.registry import EndpointRegistry

# Counted for a request whose client hung up before the answer (nginx's "client closed request").
CLIENT_CLOSED_REQUEST = 499
# The answers that refuse a job before it exists (bad request, too large, wrong type, limits, draining).
REJECTION_STATUSES = frozenset({400, 413, 415, 429, 503})


def setup_metrics(app: web.Application) -> None:
    """Add GET /metrics and the metrics it serves (the middleware is `http_metrics_middleware`)."""
    app[METRICS] = JobMetrics(endpoint.path for endpoint in app[REGISTRY])
    app.router.add_get("/metrics", metrics_endpoint)


def job_request_paths(registry: EndpointRegistry) -> frozenset[str]:
    """The paths that create jobs: POST /api/v1/jobs/start and every direct endpoint."""
    return frozenset({f"{JOBS}/start", *(endpoint.path for endpoint in registry)})


async def metrics_endpoint(request: web.Request) -> web.Response:
    """GET /metrics: the Prometheus text format (or OpenMetrics, when the scraper asks for it)."""
    scrape = await request.app[METRICS].scrape(request.app[SERVICE])
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(scrape), headers={"Content-Type": content_type})


def http_metrics_middleware(job_paths: frozenset[str]) -> Middleware:
    """Time each request by route template (never the raw path), method and status class, and count
    job requests (POST /api/v1/jobs/start and direct calls) refused before a job exists."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            if status in REJECTION_STATUSES and request.method == "POST" and request.path in job_paths:
                request.app[METRICS].rejected(response.get(ERROR_CODE, "other"))
            return response
        except web.HTTPException as http_error:
            status = http_error.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            resource = request.match_info.route.resource
            request.app[METRICS].request_served(
                resource.canonical if resource is not None else None,
                request.method,
                status,
                time.perf_counter() - started,
            )

    return middleware
