"""A peer to measure docjobs against: arq 0.28 behind an aiohttp app that speaks the jobs API's three calls.

It runs in a venv of its own (bench/bench_peers.py makes it): arq needs redis-py < 6, docjobs 8.x.
- `python bench/peer_arq.py PORT REDIS_URL` serves POST /api/v1/jobs/start, GET .../status and
  GET .../result over arq's queue, as a service that put arq behind its API would;
- `arq peer_arq.WorkerSettings` (with bench/ on PYTHONPATH and PEER_REDIS_URL set) is one worker,
  polling the queue every 10 ms (arq's default is 500 ms, which no polling client would accept).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import uvloop
from aiohttp import web
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job, JobStatus

FUNCTIONS = {"/api/v1/demo/echo": "echo", "/api/v1/demo/cpu": "cpu"}
STATUS = {
    JobStatus.deferred: "pending",
    JobStatus.queued: "pending",
    JobStatus.in_progress: "running",
}
POOL = web.AppKey("pool", ArqRedis)


async def echo(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "echo": payload}


async def cpu(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    # arq runs coroutines only: this one holds its worker's loop while it burns, as a CPU-bound
    # handler does, so each arq worker process runs one at a time.
    deadline = time.perf_counter() + float(payload.get("milliseconds", 50)) / 1000
    spins = 0
    while time.perf_counter() < deadline:
        spins += 1
    return {"success": True, "spins": spins}


class WorkerSettings:
    functions = [echo, cpu]
    redis_settings = RedisSettings.from_dsn(os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0"))
    poll_delay = 0.01
    max_jobs = 10
    handle_signals = True


async def start(request: web.Request) -> web.Response:
    body = await request.json()
    function = FUNCTIONS.get(body.get("endpoint"))
    if function is None:
        return web.json_response({"success": False, "error": "endpoint_not_allowed"}, status=403)
    job = await request.app[POOL].enqueue_job(function, body.get("payload") or {})
    assert job is not None
    return web.json_response({"success": True, "jobId": job.job_id, "status": "started"}, status=202)


async def status(request: web.Request) -> web.Response:
    job = Job(request.match_info["job_id"], request.app[POOL])
    state = await job.status()
    if state is JobStatus.not_found:
        return web.json_response({"success": False, "error": "job_not_found"}, status=404)
    if state is JobStatus.complete:
        info = await job.result_info()
        done = "completed" if info is not None and info.success else "failed"
        return web.json_response({"success": True, "status": done})
    return web.json_response({"success": True, "status": STATUS[state]})


async def result(request: web.Request) -> web.Response:
    info = await Job(request.match_info["job_id"], request.app[POOL]).result_info()
    if info is None:
        return web.json_response({"success": False, "error": "job_not_found"}, status=404)
    return web.json_response({"success": True, "status": "completed", "data": info.result})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    port, url = int(sys.argv[1]), sys.argv[2]

    async def pool(app: web.Application) -> Any:
        app[POOL] = await create_pool(RedisSettings.from_dsn(url))
        yield
        await app[POOL].aclose()

    app = web.Application()
    app.cleanup_ctx.append(pool)
    app.router.add_post("/api/v1/jobs/start", start)
    app.router.add_get("/api/v1/jobs/{job_id}/status", status)
    app.router.add_get("/api/v1/jobs/{job_id}/result", result)
    app.router.add_get("/healthz", health)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
