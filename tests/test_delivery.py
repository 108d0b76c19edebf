"""A delivery mark Redis refused when the result was served is written later by the instance on its own,
with the time the result was first served; fetches meanwhile answer that same retrieved_at."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis

from jobs.settings import StoreSettings
from tests.conftest import ServiceFactory, body, make_settings, start_job, wait_finished
from tests.store.redis_server import running_redis
from tests.waiting import wait_until_async


async def test_a_delivery_mark_refused_at_maxmemory_is_written_later_without_another_fetch(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    with running_redis(tmp_path) as redis:
        prefix = f"marks{os.getpid()}"
        client = await start_service(settings=make_settings(store=StoreSettings("redis", redis.url, prefix)))
        job_id = await start_job(client, "/api/v1/demo/echo", {"kept": True})
        assert (await wait_finished(client, job_id))["status"] == "completed"
        admin = Redis.from_url(redis.url)
        key = f"{prefix}:job:{job_id}"
        try:
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", 1)
            first = await body(await client.get(f"/api/v1/jobs/{job_id}/result"))
            assert first["success"], first
            again = await body(await client.get(f"/api/v1/jobs/{job_id}/result"))
            assert again["retrieved_at"] == first["retrieved_at"], "one retrieved_at while the mark waits"
            assert await admin.hget(key, "delivered_at") is None, "Redis refused the mark"
            await admin.config_set("maxmemory", 0)
            mark = await wait_until_async(lambda: admin.hget(key, "delivered_at"), 10, "the mark to be written")
            assert isinstance(mark, bytes), mark
            served = datetime.fromisoformat(first["retrieved_at"].replace("Z", "+00:00")).timestamp()
            assert abs(float(mark) - served) < 0.01, "the mark keeps the time the result was first served"
            assert await admin.ttl(key) > 0, "the record is now kept only for the grace period"
        finally:
            await admin.config_set("maxmemory", 0)
            await admin.aclose()
            await client.close()  # before its Redis stops
