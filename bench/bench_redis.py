"""Benchmark the jobs API on Redis: throughput per layout, Redis commands and Redis CPU per job, a profile.

For each layout it starts a private `redis-server` and the instances, then drives the API instance with
`bench/loadgen.mjs` (32 closed-loop clients, no-op jobs, polling every 2 ms) and one client alone. Around
each throughput run it reads Redis's `INFO commandstats` and `INFO cpu`, and the job counter, to print:

- the commands Redis ran per job (by command; EVALSHA is one script run);
- Redis CPU per job (used_cpu_user + used_cpu_sys, delta over jobs added), and the jobs/s at which one
  Redis core would be saturated at that cost;
- with --profile, a py-spy profile of the API instance during the run (`py-spy record --nonblocking`),
  summed by function: where the API's time goes.

The memory store on one instance runs in the same invocation as the reference (the issue's targets are
ratios to it). Layouts: `one` (one instance, 2 workers), `split1`, `split2`, `split4` (one --role api
instance and N --role worker instances with one worker each). Alternate A/B runs with --repeat.

Usage: .venv/bin/python bench/bench_redis.py [--seconds 8] [--layouts memory,one,split1,split2,split4]
       [--repeat N] [--profile] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # the benchmarks import each other as top-level modules, as mypy sees them

from bench_jobs import CONFIG, loadgen  # noqa: E402 - after the path is set (CONFIG: limits no client reaches)

from tests.process import free_port, run_server  # noqa: E402
from tests.store.redis_server import RedisServer, redis_server_binary  # noqa: E402

PREFIX = "docjobs"  # the configured default: its ":seq" counter numbers every job added
LAYOUTS = {"memory": (None, 2), "one": ("all", 2), "split1": ("api", 1), "split2": ("api", 2), "split4": ("api", 4)}
TOP_FUNCTIONS = 25
# 50 ms CPU jobs, 32 clients polling every 10 ms (bench_jobs.py's scenario 2; ideal with 2 workers: 40/s).
CPU_JOBS = {"endpoint": "/api/v1/demo/cpu", "payload": {"milliseconds": 50}, "pollMs": 10}
LOOP_FRAME = "Runner.run"  # asyncio.Runner.run: on the stack of the event loop's thread only
# py-spy is a tool of the venv (pip install py-spy), or on PATH.
SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy") or "py-spy"


def redis_figures(client: redis.Redis) -> dict[str, Any]:
    """Commands run so far (by name), CPU seconds used so far, and jobs added so far."""
    stats = client.info("commandstats")
    cpu = client.info("cpu")
    return {
        "calls": {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()},
        "cpu": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        "jobs": int(client.get(f"{PREFIX}:seq") or 0),
    }


def per_job(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Commands and Redis CPU per job between two readings."""
    jobs = max(1, after["jobs"] - before["jobs"])
    calls = Counter(after["calls"])
    calls.subtract(before["calls"])
    commands = {name: round(n / jobs, 2) for name, n in calls.most_common() if n > 0 and name != "info"}
    cpu_us = (after["cpu"] - before["cpu"]) / jobs * 1e6
    return {
        "jobs_added": jobs,
        "commands_per_job": commands,
        "total_commands_per_job": round(sum(commands.values()), 2),
        "redis_cpu_us_per_job": round(cpu_us, 1),
        "one_redis_core_saturates_at_jobs_per_second": round(1e6 / cpu_us) if cpu_us > 0 else None,
    }


@contextmanager
def profiled(pid: int, seconds: float, out: Path) -> Iterator[None]:
    """py-spy records the process for `seconds` (without pausing it) while the block runs."""
    command = [SPY, "record", "--nonblocking", "--format", "raw", "-d", str(int(seconds)), "-p", str(pid)]
    spy = subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        spy.wait(timeout=seconds + 30)


def profile_summary(raw: Path) -> dict[str, list[tuple[str, float]]]:
    """Of the event loop's samples: where the time is spent (leaf frames, by library), and the
    functions on the stack most often (inclusive), each as a share in percent, highest first."""
    inclusive: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any(frame.startswith(LOOP_FRAME) for frame in frames):
            continue  # another thread (a pool's feeder or reader): not the event loop
        samples = int(count)
        total += samples
        libraries[_library(frames[-1])] += samples
        for name in {frame.split(" (")[0] for frame in frames}:
            inclusive[name] += samples

    def shares(counter: Counter[str], top: int) -> list[tuple[str, float]]:
        return [(name, round(100 * n / max(1, total), 1)) for name, n in counter.most_common(top)]

    return {"leaf_by_library": shares(libraries, 10), "inclusive": shares(inclusive, TOP_FUNCTIONS)}


def _library(frame: str) -> str:
    # "function (path/to/module.py:line)" -> the package the leaf runs in (redis, aiohttp, asyncio, jobs...)
    path = frame.partition(" (")[2].rstrip(")")
    parts = Path(path.split(":")[0]).parts
    for marker in ("site-packages", "python3.11", ROOT.name):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            return rest[0].removesuffix(".py") if rest else path
    return parts[-2] if len(parts) > 1 else path


def run_layout(name: str, seconds: float, workdir: Path, profile: bool, cpu_seconds: float = 0) -> dict[str, Any]:
    """Start the layout, run the scenarios (and 50 ms CPU jobs for `cpu_seconds`, if any), stop it."""
    role, workers = LAYOUTS[name]
    with ExitStack() as stack:
        env: dict[str, str] = {}
        client = None
        if role is not None:
            server = RedisServer(redis_server_binary(), workdir)
            server.start()
            stack.callback(server.stop)
            env = {"DOCJOBS_STORE_BACKEND": "redis", "DOCJOBS_STORE_URL": server.url}
            client = redis.Redis.from_url(server.url, decode_responses=True)
            stack.callback(client.close)
        config = workdir / f"{name}.toml"
        config.write_text(CONFIG.format(workers=workers if role in (None, "all") else 1))
        roles = [role or "all"] + (["worker"] * workers if role == "api" else [])
        api = None
        processes: dict[str, int] = {}
        for number, instance_role in enumerate(roles):
            port = free_port()
            argv = ["--config", str(config), "--port", str(port), "--role", instance_role]
            started = stack.enter_context(run_server(workdir, args=argv, env=env, port=port))
            api = api or started
            processes[instance_role if instance_role != "worker" else f"worker{number}"] = started.process.pid
        assert api is not None
        if role is not None:
            assert server.process is not None
            processes["redis"] = server.process.pid
        before = redis_figures(client) if client else None
        cpu_before = cpu_used(processes)
        out = workdir / f"{name}.spy"
        began = time.monotonic()
        with profiled(api.process.pid, seconds, out) if profile else ExitStack():
            noop = loadgen(api.url, "throughput", {"endpoint": "/api/v1/demo/echo", "seconds": seconds})
        wall = time.monotonic() - began
        cpu_after = cpu_used(processes)
        figures = per_job(before, redis_figures(client)) if client and before else {}
        jobs = figures.get("jobs_added") or noop["jobs_per_second"] * wall  # memory: no job counter to read
        cpu_us = {what: round((cpu_after[what] - cpu_before[what]) / max(1, jobs) * 1e6) for what in cpu_after}
        single = loadgen(api.url, "singleClientLatency", {"jobs": 500, "pollMs": 2})
        result = {"layout": name, "noop": noop, "single": single, "redis": figures, "cpu_us_per_job": cpu_us}
        if cpu_seconds > 0:
            result["cpu"] = loadgen(api.url, "throughput", {**CPU_JOBS, "seconds": cpu_seconds})
        if profile and out.exists():
            result["profile"] = profile_summary(out)
        return result


def cpu_used(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process, of each one's descendants (its worker processes), and of
    this benchmark's finished children (the load generators, each waited for)."""
    out: dict[str, float] = {}
    for name, pid in processes.items():
        process = psutil.Process(pid)
        out[name] = sum(process.cpu_times()[:2])
        descendants = 0.0
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                descendants += sum(child.cpu_times()[:2])
        if descendants:
            out[f"{name}'s workers"] = descendants
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["loadgen"] = children.ru_utime + children.ru_stime
    return out


def line(r: dict[str, Any], memory: float | None) -> str:
    """One layout's figures on one line, with its ratio to the memory store of the same run."""
    noop, single = r["noop"], r["single"]["start_to_result"]
    ratio = f" ({noop['jobs_per_second'] / memory:.2f}x memory)" if memory else ""
    text = (
        f"{r['layout']:<7} {noop['jobs_per_second']:>7} jobs/s{ratio}, {noop['requests_per_job']} req/job, "
        f"p50 {noop['start_to_result']['p50_ms']} ms; one client p50 {single['p50_ms']} ms "
        f"({r['single'].get('requests_per_job')} req/job); polls answered {noop.get('poll_states')}"
    )
    if r["redis"]:
        f = r["redis"]
        text += (
            f"; Redis {f['total_commands_per_job']} commands/job, {f['redis_cpu_us_per_job']} us CPU/job "
            f"(one core at {f['one_redis_core_saturates_at_jobs_per_second']} jobs/s)"
        )
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--layouts", default="memory,one,split1,split2,split4")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="py-spy the API instance during each Redis run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.profile and not Path(SPY).exists():
        parser.error("--profile needs py-spy on PATH (pip install py-spy)")
    layouts = args.layouts.split(",")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.repeat):
            memory = None
            for name in layouts:
                r = run_layout(name, args.seconds, Path(tmp), args.profile and name != "memory")
                r["run"] = number + 1
                runs.append(r)
                if name == "memory":
                    memory = r["noop"]["jobs_per_second"]
                print(f"run {number + 1}: {line(r, memory if name != 'memory' else None)}", flush=True)
                if r["redis"]:
                    print(f"         commands/job: {r['redis']['commands_per_job']}", flush=True)
                cpu = r["cpu_us_per_job"]
                total = sum(cpu.values())
                print(
                    f"         CPU us/job: {cpu}; total {total} us, so {os.cpu_count()} cores allow at most "
                    f"{round(os.cpu_count() or 1) * 1e6 / max(1, total):.0f} jobs/s",
                    flush=True,
                )
                for kind, shares in r.get("profile", {}).items():
                    print(f"         {kind}: " + ", ".join(f"{name} {share}%" for name, share in shares), flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
