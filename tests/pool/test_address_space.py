"""Workers run under a kernel memory limit (RLIMIT_AS): an allocation past it fails the job at once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psutil

from jobs.api.keys import SERVICE
from jobs.settings import EndpointSettings, Settings
from jobs.settings.machine import default_worker_address_space
from tests.conftest import DEMO_ENDPOINTS, ServiceFactory, make_settings, start_job, wait_finished

HOG = EndpointSettings("/api/v1/demo/hog", "tests.fault_handlers:hog_memory")
LIMIT = 1536 * 1024 * 1024


async def test_a_job_allocating_past_the_limit_fails_out_of_memory_at_once_and_its_worker_is_replaced(
    start_service: ServiceFactory,
) -> None:
    settings = make_settings(workers=1, endpoints=(*DEMO_ENDPOINTS, HOG))
    settings = replace(settings, pool=replace(settings.pool, max_worker_address_space_bytes=LIMIT))
    client = await start_service(settings=settings)
    service = client.app[SERVICE]
    [before] = service.worker_pids()
    # 4 GiB would take the RSS watch (off here) seconds to notice; the kernel refuses it outright.
    job_id = await start_job(client, "/api/v1/demo/hog", {"megabytes": 4096, "hold_seconds": 30})
    status: dict[str, Any] = await wait_finished(client, job_id, timeout=20)
    assert status["status"] == "failed"
    assert status["message"].startswith("Job failed: the job ran out of memory")
    assert "1536.0 MiB (pool.max_worker_address_space_bytes)" in status["message"]
    stored = await service.store.get(job_id)
    assert stored is not None and stored.end_reason == "memory_limit"
    follow_up = await start_job(client, "/api/v1/demo/echo", {"after": "oom"})
    assert (await wait_finished(client, follow_up))["status"] == "completed"
    [after] = service.worker_pids()
    assert after != before, "the worker that hit its limit was replaced"
    assert psutil.Process(after).rlimit(psutil.RLIMIT_AS)[0] == LIMIT, "its replacement has the limit too"


def test_the_default_limit_is_a_share_of_memory_for_each_worker() -> None:
    one, four = make_settings(workers=1), make_settings(workers=4)
    assert Settings().pool.max_worker_address_space_bytes == -1
    assert one.worker_address_space == default_worker_address_space(1) > 0
    assert four.worker_address_space == default_worker_address_space(4) <= one.worker_address_space
    off = replace(one, pool=replace(one.pool, max_worker_address_space_bytes=0))
    assert off.worker_address_space == 0
