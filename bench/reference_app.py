"""The floor to read the jobs benchmark against: an aiohttp app that answers the three calls of the
design's client loop with constants (no job, no worker, no store, no middleware).

`bench_jobs.py --reference` drives it with the same load generator and scenarios as the service, so
the difference between the two is what the service itself costs. Run alone:
.venv/bin/python bench/reference_app.py PORT
"""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web

STARTED = {"success": True, "jobId": "job_0000000000000_" + "0" * 32, "status": "started"}
DONE = {"success": True, "status": "completed", "progress": 100, "message": "done"}
RESULT = {"success": True, "status": "completed", "data": {"success": True}}


async def start(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(STARTED, status=202)


async def status(request: web.Request) -> web.Response:
    return web.json_response(DONE)


async def result(request: web.Request) -> web.Response:
    return web.json_response(RESULT)


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/v1/jobs/start", start)
    app.router.add_get("/api/v1/jobs/{job_id}/status", status)
    app.router.add_get("/api/v1/jobs/{job_id}/result", result)
    app.router.add_get("/healthz", status)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
