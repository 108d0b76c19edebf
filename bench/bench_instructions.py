"""The API server's own instructions per no-op job, under callgrind: a figure the machine's load cannot move.

    .venv/bin/python bench/bench_instructions.py [--baseline DIR] [--repeat 2] [--seconds 15] [--clients 8]
                                                 [--store memory|redis]

On a shared 2-core machine the jobs/s of bench_jobs.py moved by up to 2x between runs minutes apart,
and so did the server's CPU time per job: other tenants' load changes how fast each instruction runs,
not how many there are. Here the server process (not its workers, which start from the forkserver by
exec and run natively) runs under `valgrind --tool=callgrind`; after a warm-up its counters are zeroed
(`callgrind_control -z`), `bench/loadgen.mjs` drives no-op jobs from `--clients` polling clients for
`--seconds`, and the counters are dumped. Before the load, an idle spell of IDLE_SECONDS gives the
rate of what runs whatever the traffic (lease renewals, fleet figures, event listeners), which is
taken off the load's total. Printed: jobs, requests per job, instructions per job net of that and in
all, and per request. With --baseline DIR (another checkout, e.g. `git worktree add --detach DIR <commit>`),
that tree runs alternately with this one (its own bench_jobs.py settings) and the ratio is printed.
With --store redis, each run gets a private `redis-server` on a free loopback port (one instance,
2 workers): the server's instructions then include redis-py's, not Redis's own (bench_redis.py
reports Redis CPU per job).

What it does not see: system calls (count those with `strace -c -p <pid>`), the workers, and the
batching a faster server gets under heavier load. Under callgrind the server runs ~50x slower, so a
few hundred jobs are counted; the spread between runs of one tree was 1-4 %.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.process import free_port  # noqa: E402 - the tests' own helpers
from tests.store.redis_server import RedisServer, redis_server_binary  # noqa: E402

# A server under callgrind starts in tens of seconds and answers slowly: generous timeouts everywhere.
START_SECONDS = 300
SLOW_CLIENT_SECONDS = 120  # request deadlines of the slow-client guard, where the tree has one
WARMUP_SECONDS = 3
# An idle spell measured before the load: the timers and loops that run whatever the traffic (leases,
# figures, event listeners) are subtracted at that rate, so a slow run's few jobs do not carry them.
IDLE_SECONDS = 5


def bench_config(tree: Path) -> str:
    """The tree's own bench_jobs.py settings (2 workers), with request deadlines fit for callgrind."""
    text = (tree / "bench" / "bench_jobs.py").read_text().split('CONFIG = """')[1].split('"""')[0]
    config = text.format(workers=2)
    if (tree / "jobs" / "api" / "connections.py").exists():  # the guard and its settings exist there
        deadlines = "".join(f"request_{phase}_timeout_seconds = {SLOW_CLIENT_SECONDS}\n" for phase in ("head", "body"))
        config = config.replace("[server]\n", f"[server]\n{deadlines}", 1)
    return config


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server under callgrind exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise SystemExit("the server under callgrind did not come up")


def load(url: str, seconds: float, clients: int) -> dict[str, Any]:
    options = {"endpoint": "/api/v1/demo/echo", "seconds": seconds, "clients": clients, "warmupSeconds": 0}
    command = ["node", str(ROOT / "bench" / "loadgen.mjs"), url, "throughput", json.dumps(options)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 300)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(tree: Path, workdir: Path, seconds: float, clients: int, store: str) -> dict[str, float]:
    """One callgrind run of `tree`'s server: jobs, requests per job, instructions per job."""
    if store == "redis":
        redis = RedisServer(redis_server_binary(), workdir)
        redis.start()
        try:
            env = {"DOCJOBS_STORE_BACKEND": "redis", "DOCJOBS_STORE_URL": redis.url}
            return _measure(tree, workdir, seconds, clients, env)
        finally:
            redis.stop()
    return _measure(tree, workdir, seconds, clients, {})


def _measure(tree: Path, workdir: Path, seconds: float, clients: int, store_env: dict[str, str]) -> dict[str, float]:
    config = workdir / "bench.toml"
    config.write_text(bench_config(tree))
    out = workdir / "callgrind"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    port = free_port()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=no",
        f"--callgrind-out-file={out}/callgrind.out.%p",
        sys.executable,
        str(tree / "server.py"),
        "--config",
        str(config),
        "--port",
        str(port),
    ]
    env = {**os.environ, "PYTHONPATH": str(tree), **store_env}  # the tree's own packages, whichever tree
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process)
        load(url, WARMUP_SECONDS, clients)
        control = ["callgrind_control", "-z", str(process.pid)]
        subprocess.run(control, check=True, capture_output=True)
        idle_began = time.monotonic()
        time.sleep(IDLE_SECONDS)  # no requests: what the background loops cost per second
        control[1] = "-d"
        subprocess.run(control, check=True, capture_output=True)
        idle_seconds = time.monotonic() - idle_began
        control[1] = "-z"
        subprocess.run(control, check=True, capture_output=True)
        load_began = time.monotonic()
        report = load(url, seconds, clients)
        control[1] = "-d"
        subprocess.run(control, check=True, capture_output=True)
        load_seconds = time.monotonic() - load_began
    finally:
        process.terminate()
        process.wait(timeout=120)
    # The dumps taken after the idle wait (.1) and after the load (.2); the one at exit holds the shutdown.
    idle, loaded = (_instructions(next(out.glob(f"callgrind.out.*.{n}"))) for n in (1, 2))
    jobs = report["jobs"]
    background = idle / idle_seconds * load_seconds
    return {
        "jobs": jobs,
        "requests_per_job": report["requests_per_job"],
        "instructions_per_job": loaded / jobs,
        "net_instructions_per_job": (loaded - background) / jobs,
    }


def _instructions(dump: Path) -> int:
    match = re.search(r"^summary: (\d+)", dump.read_text(errors="replace"), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no instruction total in {dump}")
    return int(match[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout, run alternately with this one")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each tree")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--store", choices=["memory", "redis"], default="memory")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (Debian: apt-get install valgrind nodejs)")
    trees = {"this tree": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    runs: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.repeat):
            order = list(trees.items()) if number % 2 == 0 else list(trees.items())[::-1]
            for name, tree in order:
                r = measure(tree, Path(tmp), args.seconds, args.clients, args.store)
                runs[name].append(r["net_instructions_per_job"])
                per_request = r["net_instructions_per_job"] / r["requests_per_job"]
                print(
                    f"{name:10s} {r['jobs']:5.0f} jobs, {r['requests_per_job']:.2f} req/job: "
                    f"{r['net_instructions_per_job'] / 1e3:,.0f}k instructions/job net of the idle rate "
                    f"({r['instructions_per_job'] / 1e3:,.0f}k in all), {per_request / 1e3:,.0f}k/request",
                    flush=True,
                )
    medians = {name: statistics.median(values) for name, values in runs.items()}
    for name, value in medians.items():
        print(f"median {name}: {value / 1e3:,.0f}k instructions/job (net of the idle rate)")
    if args.baseline:
        print(f"this tree / baseline: {medians['this tree'] / medians['baseline']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
