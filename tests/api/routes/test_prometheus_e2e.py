"""A real Prometheus server on loopback scrapes the service; the series come back through its query API."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServiceFactory, start_job, wait_finished
from tests.external_tools import require_program
from tests.process import free_port, stop_process

ECHO, FAIL = "/api/v1/demo/echo", "/api/v1/demo/fail"
# Prometheus hands new targets to its scrapers every 5 s: the first scrape comes within about 6 s.
FIRST_SCRAPE_TIMEOUT = 30.0


class Prometheus:
    """A Prometheus server process and its HTTP API."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector of `promql` now."""
        async with self.session.get(f"{self.url}/api/v1/query", params={"query": promql}) as response:
            data = await response.json()
        assert data["status"] == "success", data
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    async def wait_for_value(self, promql: str, expected: float, timeout: float = FIRST_SCRAPE_TIMEOUT) -> None:
        """Poll the query until its single series has `expected` as its value."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = await self.query(promql)
            if len(result) == 1 and float(result[0]["value"][1]) == expected:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{promql} never became {expected}; last result: {result}")


def write_config(tmp_path: Path, target_port: int) -> Path:
    """A config that scrapes only the service, every second."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: docjobs\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n",
        encoding="utf-8",
    )
    return config


async def wait_ready(
    url: str, process: subprocess.Popen[bytes], log_path: Path, session: aiohttp.ClientSession
) -> None:
    """Poll /-/ready until Prometheus answers, failing early if it died."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, f"prometheus exited:\n{log_path.read_text()}"
        try:
            async with session.get(f"{url}/-/ready") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"prometheus did not become ready:\n{log_path.read_text()}")


@pytest.fixture
async def start_prometheus(tmp_path: Path) -> AsyncIterator[Any]:
    """Start Prometheus on a free loopback port, scraping the given service port."""
    binary = require_program("prometheus", "prometheus")
    processes: list[subprocess.Popen[bytes]] = []
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    async def start(target_port: int) -> Prometheus:
        port = free_port()
        log_path = tmp_path / "prometheus.log"
        command = [
            binary,
            f"--config.file={write_config(tmp_path, target_port)}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url, process, log_path, session)
        return Prometheus(url, session)

    yield start
    await session.close()
    for process in processes:
        stop_process(process, timeout=10)


async def test_prometheus_scrapes_the_job_metrics(start_service: ServiceFactory, start_prometheus: Any) -> None:
    client = await start_service(workers=2)
    prometheus: Prometheus = await start_prometheus(client.port)
    for endpoint in (ECHO, ECHO, FAIL):
        await wait_finished(client, await start_job(client, endpoint))
    refused = await client.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/nope"})
    assert refused.status == 400

    await prometheus.wait_for_value('up{job="docjobs"}', 1)
    finished = 'docjobs_jobs_finished_total{job="docjobs",endpoint="%s",status="%s"}'
    await prometheus.wait_for_value(finished % (ECHO, "completed"), 2)
    await prometheus.wait_for_value(finished % (FAIL, "failed"), 1)
    await prometheus.wait_for_value('docjobs_jobs_rejected_total{reason="endpoint_not_allowed"}', 1)
    await prometheus.wait_for_value(f'docjobs_job_duration_seconds_count{{endpoint="{ECHO}"}}', 2)
    await prometheus.wait_for_value("docjobs_worker_slots", 2)
    await prometheus.wait_for_value('docjobs_jobs{status="completed"}', 2)
    await prometheus.wait_for_value("count(docjobs_worker_resident_memory_bytes)", 2)
    # The PromQL of docs/observability.md works on these series.
    await prometheus.wait_for_value(
        f'histogram_quantile(0.95, sum by (le) (docjobs_job_duration_seconds_bucket{{endpoint="{ECHO}"}})) < bool 1', 1
    )
