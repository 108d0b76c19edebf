"""Redis refusing writes (at maxmemory) is a 503 with Retry-After for new jobs, never a 500, and a
finished job's result is still served: the delivery mark is only bookkeeping."""

from __future__ import annotations

import os
from pathlib import Path

from redis.asyncio import Redis

from jobs.settings import StoreSettings
from tests.conftest import ServiceFactory, body, make_settings, start_job, wait_finished
from tests.store.redis_server import running_redis


async def test_at_maxmemory_starts_are_503_and_finished_results_are_still_served(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    with running_redis(tmp_path) as redis:
        store = StoreSettings(backend="redis", url=redis.url, prefix=f"refusals{os.getpid()}")
        client = await start_service(settings=make_settings(store=store))
        job_id = await start_job(client, "/api/v1/demo/echo", {"kept": True})
        assert (await wait_finished(client, job_id))["status"] == "completed"
        admin = Redis.from_url(redis.url)
        try:
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", 1)
            refused = await client.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}})
            data = await body(refused)
            assert refused.status == 503 and data["error"] == "store_unavailable", data
            assert int(refused.headers["Retry-After"]) >= 1
            result = await client.get(f"/api/v1/jobs/{job_id}/result")
            served = await body(result)
            assert result.status == 200, served
            assert served["data"]["data"] == {"kept": True}
        finally:
            await admin.config_set("maxmemory", 0)
            await admin.aclose()
            await client.close()  # before its Redis stops
