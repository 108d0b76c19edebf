"""SIGTERM while Redis is unreachable: the instance stops within its grace period plus a few seconds,
leaving its claims to be recovered by lease, instead of retrying its store writes for minutes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.process import run_server
from tests.store.redis_server import RedisServer, redis_server_binary
from tests.test_scale_out import start, wait_status

GRACE_SECONDS = 2
# What a stop may take past the grace: the last store writes' bounded tries, closing the pool.
STOP_BOUND_SECONDS = 8

CONFIG = f"""
[server]
shutdown_grace_seconds = {GRACE_SECONDS}
[pool]
workers = 1
[store]
backend = "redis"
lease_seconds = 2
[endpoints]
"/api/v1/demo/sleep" = {{ handler = "handlers.demo:sleep" }}
"""


async def test_sigterm_with_redis_down_stops_within_the_grace_plus_a_bound(tmp_path: Path) -> None:
    redis = RedisServer(redis_server_binary(), tmp_path)
    redis.start()
    env = {"DOCJOBS_STORE_URL": redis.url, "DOCJOBS_STORE_PREFIX": f"s{os.getpid()}"}
    try:
        with run_server(tmp_path, env=env, config=CONFIG) as server:
            job_id = await start(server, "/api/v1/demo/sleep", {"seconds": 60, "steps": 60})
            await wait_status(server, job_id, lambda d: d["status"] == "running")
            redis.stop()
            stopping = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=GRACE_SECONDS + STOP_BOUND_SECONDS)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"still running {time.monotonic() - stopping:.0f} s after SIGTERM") from None
            took = time.monotonic() - stopping
            assert server.process.returncode == 0, server.logs()
            assert took <= GRACE_SECONDS + STOP_BOUND_SECONDS
            assert "the store did not take the outcomes of stopped jobs" in server.logs()
    finally:
        redis.stop()
