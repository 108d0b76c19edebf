"""Defaults that follow the container: the cgroup's CPU quota and memory limit."""

from __future__ import annotations

from pathlib import Path

from jobs.budget import Budget
from jobs.settings import JobSettings, ServerSettings
from jobs.settings.machine import (
    MIN_WORKER_ADDRESS_SPACE,
    available_cpus,
    cgroup_cpu_quota,
    cgroup_memory_limit,
    default_result_budget,
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


def test_the_result_budget_is_a_quarter_of_the_memory_the_cgroup_allows(tmp_path: Path) -> None:
    root = cgroup(tmp_path, **{"memory.max": str(2 * GIB)})
    one_job = 64 * 1024 * 1024
    assert default_result_budget(one_job, root) == min(2 * GIB, physical_memory()) // 4
    # Never below one job's reservation, or no job could ever start.
    tiny = cgroup(tmp_path / "tiny", **{"memory.max": str(128 * 1024 * 1024)})
    assert default_result_budget(one_job, tiny) == one_job


def test_an_unset_result_budget_follows_the_machine_and_admits_more_than_a_few_jobs() -> None:
    """A fixed 512 MiB budget admitted two 64 MiB jobs per client and eight in all, on any machine."""
    jobs = JobSettings()
    budget = Budget.from_settings(jobs, ServerSettings())
    assert budget.results == default_result_budget(jobs.max_result_bytes)
    assert budget.client_results == max(jobs.max_result_bytes, budget.results // 4)
    if physical_memory() >= 16 * GIB and cgroup_memory_limit() is None:  # as on the CI machine (24 GiB)
        assert budget.client_results // jobs.max_result_bytes >= jobs.per_client_limit
