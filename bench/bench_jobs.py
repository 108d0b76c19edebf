"""Benchmark the jobs API end to end: a real server, real workers, many polling clients.

Starts `server.py` on a free loopback port with two workers, then drives it with
`bench/loadgen.mjs` (Node, so the load generator costs little CPU next to the server) through:

1. no-op jobs, 32 clients polling every 2 ms: jobs/s and start-to-result latency;
2. 50 ms CPU jobs, 32 clients polling every 10 ms: jobs/s (ideal with 2 workers: 40);
3. status requests while both workers burn CPU: p50/p99 latency, for 1 and 4 closed-loop clients;
4. one client polling every 2 ms: start-to-result latency of a no-op job;
5. the same with a long poll (`status?wait=5`) instead of the 2 ms sleep.

With --reference it runs scenarios 1 and 4 against `bench/reference_app.py` instead: an aiohttp app
that answers the same three calls with constants, the floor to read the service's figures against.

Usage: .venv/bin/python bench/bench_jobs.py [--seconds 10] [--workers 2] [--store memory|redis [--split]]
       [--repeat N] [--json out.json] [--reference]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.process import free_port, run_server, stop_process, wait_until_up  # noqa: E402 - the same launcher the tests use
from tests.store.redis_server import RedisServer, redis_server_binary  # noqa: E402

CONFIG = """
[server]
shutdown_grace_seconds = 1
[pool]
workers = {workers}
[jobs]
per_client_limit = 10000
max_pending = 100000
# Every loadgen connection is the one client 127.0.0.1, and every start reserves max_result_bytes of its
# share (jobs/budget.py): no-op and CPU jobs return a few bytes, so 1 MiB lets 128 of them be in flight.
max_result_bytes = 1048576
max_watches_per_client = 100
[endpoints]
"/api/v1/demo/echo" = "handlers.demo:echo"
"/api/v1/demo/cpu" = "tests.fault_handlers:burn_cpu"
"""


def loadgen(url: str, scenario: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run one load-generator scenario and return its JSON report."""
    done = subprocess.run(
        ["node", str(ROOT / "bench" / "loadgen.mjs"), url, scenario, json.dumps(options)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2, help="worker processes in all")
    parser.add_argument("--store", choices=["memory", "redis"], default="memory")
    parser.add_argument(
        "--split",
        action="store_true",
        help="redis only: one --role api instance and one --role worker "
        "instance per worker process, instead of one instance doing both",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the scenarios this many times and print each figure's spread"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="instead of the service, drive bench/reference_app.py (constant answers, no jobs): "
        "the floor of aiohttp and this load generator on this machine",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        if args.reference:
            url = stack.enter_context(reference_app(Path(tmp)))
            runs = [reference_scenarios(url, args.seconds) for _ in range(args.repeat)]
            return report(runs, "reference app: constant answers, no jobs", args.json)
        workdir = Path(tmp)
        env = {}
        if args.store == "redis":
            redis = RedisServer(redis_server_binary(), workdir)
            redis.start()
            stack.callback(redis.stop)
            env = {"DOCJOBS_STORE_BACKEND": "redis", "DOCJOBS_STORE_URL": redis.url}
        config = workdir / "bench.toml"
        config.write_text(CONFIG.format(workers=1 if args.split else args.workers))
        roles = ["api"] + ["worker"] * args.workers if args.split else ["all"]
        urls = []
        for role in roles:
            port = free_port()
            argv = ["--config", str(config), "--port", str(port), "--role", role]
            urls.append(stack.enter_context(run_server(workdir, args=argv, env=env, port=port)).url)
        runs = [run_scenarios(urls[0], args.seconds, args.workers) for _ in range(args.repeat)]
    layout = f"1 API + {args.workers} worker instances" if args.split else f"one instance, {args.workers} workers"
    return report(runs, f"{args.store} store, {layout}", args.json)


def report(runs: list[list[dict[str, Any]]], setup: str, json_path: Path | None) -> int:
    """Print each run's lines and, for several runs, each headline figure's median and range."""
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; {setup}")
    for number, results in enumerate(runs, 1):
        if len(runs) > 1:
            print(f"run {number} of {len(runs)}:")
        for r in results:
            print(_line(r))
    if len(runs) > 1:
        print("median (min-max) over the runs:")
        for scenario in zip(*runs, strict=True):
            print(_spread(list(scenario)))
    if json_path:
        json_path.write_text(json.dumps(runs if len(runs) > 1 else runs[0], indent=2))
    return 0


@contextmanager
def reference_app(workdir: Path) -> Iterator[str]:
    """Run bench/reference_app.py (constant answers, no jobs) on a free port; yields its URL."""
    port = free_port()
    log_path = workdir / "reference.log"
    with log_path.open("wb") as log:
        command = [sys.executable, str(ROOT / "bench" / "reference_app.py"), str(port)]
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process, log_path)
        yield url
    finally:
        stop_process(process, timeout=10)


def reference_scenarios(url: str, seconds: float) -> list[dict[str, Any]]:
    """The no-op throughput and single-client scenarios: the ones whose floor the reference shows."""
    return [
        loadgen(url, "throughput", {"endpoint": "/api/v1/demo/echo", "seconds": seconds}),
        loadgen(url, "singleClientLatency", {"jobs": 1000, "pollMs": 2}),
    ]


def run_scenarios(url: str, seconds: float, workers: int) -> list[dict[str, Any]]:
    """The five scenarios against one API URL."""
    cpu = {"endpoint": "/api/v1/demo/cpu", "payload": {"milliseconds": 50}, "seconds": seconds, "pollMs": 10}
    results = [
        loadgen(url, "throughput", {"endpoint": "/api/v1/demo/echo", "seconds": seconds}),
        loadgen(url, "throughput", cpu),
    ]
    for clients in (1, 4):
        results.append(
            loadgen(url, "statusUnderLoad", {"clients": clients, "seconds": min(seconds, 5), "workerCount": workers})
        )
    results.append(loadgen(url, "singleClientLatency", {"jobs": 1000, "pollMs": 2}))
    results.append(loadgen(url, "singleClientLatency", {"jobs": 1000, "longPoll": True}))
    return results


def _headline(r: dict[str, Any]) -> tuple[str, str, float]:
    """The figure a scenario's target is about: (what, unit, value)."""
    if r["scenario"] == "throughput":
        return f"{r['endpoint']} {r['clients']} clients, poll {r['pollMs']} ms", "jobs/s", r["jobs_per_second"]
    if r["scenario"] == "status_while_workers_busy":
        return f"status p99 while workers burn CPU, {r['clients']} client(s)", "ms", r["latency"]["p99_ms"]
    how = "long poll" if r.get("longPoll") else f"poll every {r['pollMs']} ms"
    return f"single client start-to-result p50, {how}", "ms", r["start_to_result"]["p50_ms"]


def _spread(same_scenario: list[dict[str, Any]]) -> str:
    what, unit, _ = _headline(same_scenario[0])
    values = [_headline(r)[2] for r in same_scenario]
    return f"  {what}: {statistics.median(values):g} {unit} ({min(values):g}-{max(values):g})"


def _line(r: dict[str, Any]) -> str:
    if r["scenario"] == "throughput":
        lat = r["start_to_result"]
        return (
            f"{r['endpoint']:<20} {r['clients']} clients, poll {r['pollMs']} ms: {r['jobs_per_second']:>7} jobs/s "
            f"({r['requests_per_second']} req/s, {r['requests_per_job']} req/job, failed {r['failed']}); "
            f"start-to-result p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms"
        )
    if r["scenario"] == "status_while_workers_busy":
        lat = r["latency"]
        return (
            f"status while {r['burners']} CPU-burning jobs occupy the workers, "
            f"{r['clients']} client(s): p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms "
            f"({r['requests_per_second']} req/s)"
        )
    lat = r["start_to_result"]
    how = "long-polling (status?wait=5)" if r.get("longPoll") else f"polling every {r['pollMs']} ms"
    return (
        f"single client {how}, no-op job: start-to-result "
        f"p50 {lat['p50_ms']} ms, p90 {lat['p90_ms']} ms, p99 {lat['p99_ms']} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
