"""docjobs against a peer on the same machine, in the same run: arq 0.28 behind aiohttp, on its own Redis.

For each round it runs, one after the other, with the same load generator (bench/loadgen.mjs):
- docjobs, memory store, one instance with 2 workers (the reference the issue's ratios are to);
- docjobs, Redis store, one instance with 2 workers;
- arq: bench/peer_arq.py's aiohttp app and 2 arq worker processes polling every 10 ms.
and prints for each: no-op jobs/s (32 clients, 2 ms polls), one client's start-to-result p50, and
50 ms CPU jobs/s (32 clients, 10 ms polls; ideal with 2 workers: 40), then docjobs-on-Redis over arq.
Rounds alternate the three, so the machine's drift falls on all of them alike.

arq needs redis-py < 6, so it lives in a venv of its own: bench/.peers-venv, made on first use
(`pip install arq==0.28.0` and the same aiohttp and uvloop as docjobs).

Usage: .venv/bin/python bench/bench_peers.py [--seconds 6] [--repeat 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_jobs import loadgen  # noqa: E402 - after the path is set
from bench_redis import CPU_JOBS, run_layout  # noqa: E402

from tests.process import free_port, stop_process  # noqa: E402
from tests.store.redis_server import RedisServer, redis_server_binary  # noqa: E402

PEERS_VENV = ROOT / "bench" / ".peers-venv"
PEER_REQUIREMENTS = ["arq==0.28.0", "aiohttp==3.14.5", "uvloop==0.23.0"]
ARQ_WORKERS = 2


def peers_python() -> Path:
    """The peer venv's interpreter, made with arq in it on first use."""
    python = PEERS_VENV / "bin" / "python"
    marker = PEERS_VENV / ".installed"
    if not marker.exists() or marker.read_text() != "\n".join(PEER_REQUIREMENTS):
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS], check=True)
        marker.write_text("\n".join(PEER_REQUIREMENTS))
    return python


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


@contextmanager
def arq_peer(python: Path, workdir: Path) -> Iterator[str]:
    """A private redis-server, ARQ_WORKERS arq workers and the app; yields the app's URL."""
    with ExitStack() as stack:
        redis = RedisServer(redis_server_binary(), workdir)
        redis.start()
        stack.callback(redis.stop)
        env = {**os.environ, "PEER_REDIS_URL": redis.url, "PYTHONPATH": str(ROOT / "bench")}
        log_path = workdir / "arq.log"
        log = stack.enter_context(log_path.open("ab"))
        arq = python.parent / "arq"
        workers = []
        for _ in range(ARQ_WORKERS):
            worker = subprocess.Popen([str(arq), "peer_arq.WorkerSettings"], env=env, stdout=log, stderr=log)
            stack.callback(stop_process, worker, 10)
            workers.append(worker)
        port = free_port()
        app = subprocess.Popen(
            [str(python), str(ROOT / "bench" / "peer_arq.py"), str(port), redis.url], env=env, stdout=log, stderr=log
        )
        stack.callback(stop_process, app, 10)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        time.sleep(1)  # a worker that cannot start exits within a second: do not drive a peer that runs nothing
        if any(worker.poll() is not None for worker in workers):
            raise RuntimeError(f"an arq worker exited; see {log_path}:\n{log_path.read_text()[-2000:]}")
        yield url


def arq_figures(python: Path, workdir: Path, seconds: float) -> dict[str, Any]:
    with arq_peer(python, workdir) as url:
        noop = loadgen(url, "throughput", {"endpoint": "/api/v1/demo/echo", "seconds": seconds})
        single = loadgen(url, "singleClientLatency", {"jobs": 500, "pollMs": 2})
        cpu = loadgen(url, "throughput", {**CPU_JOBS, "seconds": seconds})
    return {"layout": "arq", "noop": noop, "single": single, "cpu": cpu}


def docjobs_figures(layout: str, workdir: Path, seconds: float) -> dict[str, Any]:
    figures = run_layout(layout, seconds, workdir, profile=False, cpu_seconds=seconds)
    return {"layout": f"docjobs-{layout}", **figures}


def line(r: dict[str, Any]) -> str:
    cpu = r.get("cpu")
    cpu_text = f"; 50 ms CPU jobs {cpu['jobs_per_second']} jobs/s" if cpu else ""
    failed = r["noop"]["failed"] + (cpu["failed"] if cpu else 0)
    return (
        f"{r['layout']:<15} no-op {r['noop']['jobs_per_second']:>7} jobs/s, "
        f"one client p50 {r['single']['start_to_result']['p50_ms']} ms{cpu_text}"
        + (f" ({failed} failed)" if failed else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    python = peers_python()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.repeat):
            rows = [
                docjobs_figures("memory", Path(tmp), args.seconds),
                docjobs_figures("one", Path(tmp), args.seconds),
                arq_figures(python, Path(tmp), args.seconds),
            ]
            for r in rows:
                r["run"] = number + 1
                print(f"run {number + 1}: {line(r)}", flush=True)
            memory, redis, arq = (r["noop"]["jobs_per_second"] for r in rows)
            print(
                f"run {number + 1}: docjobs on Redis = {redis / memory:.2f}x its memory store, "
                f"{redis / max(arq, 0.1):.2f}x arq (no-op jobs/s)",
                flush=True,
            )
            runs += rows
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
