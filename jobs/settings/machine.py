"""What this machine or container allows: CPUs and memory, from the cgroup when there is one.

`os.cpu_count()` and the physical memory describe the host; in a container the cgroup's CPU quota
and memory limit are what the service really has, and defaults derived from the host would overrun it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
# Workers together may reserve this share of the memory: the API process, the page cache and the
# kernel need the rest.
WORKER_MEMORY_SHARE = 0.75
# No default limit goes under this: the interpreter and the handlers' libraries map a few hundred MiB
# of address space before a job even starts.
MIN_WORKER_ADDRESS_SPACE = 1024 * 1024 * 1024
# Results held and reserved may take this share of the memory by default: the memory store keeps them
# in the API process, beside the workers' share.
RESULT_MEMORY_SHARE = 0.25


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_memory_limit(root: Path = CGROUP) -> int | None:
    """The cgroup's memory limit in bytes (v2 memory.max, else v1), or None when it has none."""
    for name in ("memory.max", "memory/memory.limit_in_bytes"):
        text = _read(root / name)
        if text and text.isdigit() and int(text) < 1 << 60:  # v1 writes "unlimited" as a huge number
            return int(text)
    return None


def cgroup_cpu_quota(root: Path = CGROUP) -> int | None:
    """The CPUs the cgroup's quota grants (rounded up, at least 1), or None without a quota."""
    text = _read(root / "cpu.max")  # v2: "<quota> <period>" or "max <period>"
    if text:
        quota, _, period = text.partition(" ")
    else:
        quota, period = _read(root / "cpu/cpu.cfs_quota_us") or "", _read(root / "cpu/cpu.cfs_period_us") or ""
    if not (quota.isdigit() and period.isdigit()) or int(period) == 0:
        return None  # "max" or "-1": no quota
    return max(1, math.ceil(int(quota) / int(period)))


def physical_memory() -> int:
    """The machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def available_cpus(root: Path = CGROUP) -> int:
    """CPUs this process may use: its affinity and the cgroup's quota, whichever is fewer."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_quota(root)
    return min(cpus, quota) if quota else cpus


def usable_memory(root: Path = CGROUP) -> int:
    """The memory this process may use: the machine's, or the cgroup's limit when that is lower."""
    memory = physical_memory()
    limit = cgroup_memory_limit(root)
    return memory if limit is None else min(memory, limit)


def default_worker_address_space(workers: int, root: Path = CGROUP) -> int:
    """Each worker's RLIMIT_AS by default: its share of the memory the machine or cgroup allows."""
    return max(MIN_WORKER_ADDRESS_SPACE, int(usable_memory(root) * WORKER_MEMORY_SHARE / max(1, workers)))


def default_result_budget(one_job: int, root: Path = CGROUP) -> int:
    """The result budget by default: its share of the memory, but room for at least one job's result."""
    return max(one_job, int(usable_memory(root) * RESULT_MEMORY_SHARE))
