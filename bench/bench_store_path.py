"""The memory store's cost per job, in process: add, claim, running, two reads, finish, deliver, delete.

The jobs API's throughput on the memory store is about 1 ms of Python per job (HTTP included); this
isolates the store's share, so a change to its hot path (counters, indexes) is measured on its own.
Pass another tree's root to measure that tree's store in a separate process (alternate A/B runs).

Usage: .venv/bin/python bench/bench_store_path.py [--jobs 20000] [--root PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path


async def per_job_us(jobs: int) -> float:
    """Microseconds per job through the memory store's whole lifecycle."""
    from jobs.model import Job, JobStatus, new_job_id  # noqa: PLC0415 - imported from the chosen tree
    from jobs.store.memory import MemoryJobStore  # noqa: PLC0415
    from jobs.store.protocol import Admission  # noqa: PLC0415

    store, admission = MemoryJobStore(), Admission(per_client_limit=jobs, max_pending=jobs)
    batch = [
        Job(id=new_job_id(1000.0 + i), endpoint="/e", payload={}, client="c", timeout_seconds=30, created_at=1000.0)
        for i in range(jobs)
    ]
    began = time.perf_counter()
    for job in batch:
        await store.add(job, admission)
        await store.claim_next(1001.0)
        await store.mark_running(job.id, 1001.0)
        await store.get(job.id)
        await store.finish(job.id, JobStatus.COMPLETED, "done", 1002.0, result_json=b"{}")
        await store.get(job.id)
        await store.mark_delivered(job.id, 1003.0)
        await store.delete(job.id)
    return (time.perf_counter() - began) / jobs * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root))
    print(f"{args.root}: {asyncio.run(per_job_us(args.jobs)):.2f} us per job in the memory store")
    return 0


if __name__ == "__main__":
    sys.exit(main())
