"""Defaults that follow the container: the cgroup's CPU quota and memory limit."""

from __future__ import annotations

from pathlib import Path

from jobs.settings.machine import (
    MIN_WORKER_ADDRESS_SPACE,
    available_cpus,
    cgroup_cpu_quota,
    cgroup_memory_limit,
    default_worker_address_space,
    physical_memory,
)

GIB = 1024**3


def cgroup(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="ascii")
    return tmp_path


def test_a_v2_cpu_quota_is_rounded_up_to_whole_cpus(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(cgroup(tmp_path, **{"cpu.max": "150000 100000"})) == 2
    assert available_cpus(tmp_path) <= 2


def test_no_quota_leaves_the_cpus_as_they_are(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(cgroup(tmp_path, **{"cpu.max": "max 100000"})) is None
    assert cgroup_cpu_quota(tmp_path / "missing") is None


def test_a_v1_quota_is_read_too(tmp_path: Path) -> None:
    root = cgroup(tmp_path, cpu__cpu_cfs_quota_us="50000", cpu__cpu_cfs_period_us="100000")
    (root / "cpu" / "cpu_cfs_quota_us").rename(root / "cpu" / "cpu.cfs_quota_us")
    (root / "cpu" / "cpu_cfs_period_us").rename(root / "cpu" / "cpu.cfs_period_us")
    assert cgroup_cpu_quota(root) == 1


def test_the_cgroup_memory_limit_bounds_each_workers_share(tmp_path: Path) -> None:
    root = cgroup(tmp_path, **{"memory.max": str(8 * GIB)})
    assert cgroup_memory_limit(root) == 8 * GIB
    assert default_worker_address_space(2, root) == min(8 * GIB, physical_memory()) * 3 // 8
    assert default_worker_address_space(64, root) == MIN_WORKER_ADDRESS_SPACE


def test_an_unlimited_cgroup_falls_back_to_the_machine(tmp_path: Path) -> None:
    root = cgroup(tmp_path, **{"memory.max": "max"})
    assert cgroup_memory_limit(root) is None
    assert default_worker_address_space(1, root) == max(MIN_WORKER_ADDRESS_SPACE, int(physical_memory() * 0.75))
