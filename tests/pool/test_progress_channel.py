"""Progress is best effort: it travels over each worker's own pipe and can never fail a job."""

from __future__ import annotations

import os
import signal
from typing import Any

import psutil
from aiohttp.test_utils import TestClient

from jobs.api.keys import SERVICE
from jobs.progress import report_progress, reporting_to
from tests.conftest import start_job, wait_finished

Client = TestClient[Any, Any]


class _BrokenSink:
    """A sink whose channel is gone, as a dead progress process would leave it."""

    def put(self, item: tuple[str, int, str | None]) -> None:
        raise BrokenPipeError("the progress channel is gone")


def test_a_progress_report_that_cannot_be_delivered_does_not_raise() -> None:
    with reporting_to("job", _BrokenSink()):
        report_progress(50, "half way")


async def test_killing_every_helper_process_of_the_pool_fails_no_progress_reporting_job(service: Client) -> None:
    workers = set(service.app[SERVICE].worker_pids())
    # A worker's parent is the forkserver; anything else it started (a progress Manager used to be
    # one) is a helper whose death must not matter to the jobs.
    forkservers = {psutil.Process(pid).ppid() for pid in workers}
    helpers = [
        child.pid for parent in forkservers for child in psutil.Process(parent).children() if child.pid not in workers
    ]
    for pid in helpers:
        os.kill(pid, signal.SIGKILL)
    job_ids = [await start_job(service, "/api/v1/demo/sleep", {"seconds": 0.2, "steps": 4}) for _ in range(4)]
    for job_id in job_ids:
        status = await wait_finished(service, job_id)
        assert status["status"] == "completed", status
    assert set(service.app[SERVICE].worker_pids()) == workers, "no worker died"
