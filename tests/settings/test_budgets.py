"""The budget settings: shares derived from the budgets when left at 0, and refused when they cannot work."""

from __future__ import annotations

import pytest

from jobs.budget import Budget
from jobs.errors import ConfigError
from jobs.settings import JobSettings, ServerSettings, load_settings

MIB = 1024 * 1024


def test_a_share_left_at_0_is_a_quarter_of_its_budget() -> None:
    budget = Budget.from_settings(JobSettings(max_stored_result_bytes=512 * MIB), ServerSettings())
    assert (budget.client_results, budget.results) == (128 * MIB, 512 * MIB)
    assert (budget.client_payloads, budget.payloads) == (64 * MIB, 256 * MIB)


def test_a_derived_share_always_holds_one_job() -> None:
    jobs = JobSettings(max_result_bytes=64 * MIB, max_stored_result_bytes=100 * MIB, max_held_payload_bytes=40 * MIB)
    budget = Budget.from_settings(jobs, ServerSettings(max_body_bytes=32 * MIB))
    assert (budget.client_results, budget.client_payloads) == (64 * MIB, 32 * MIB)


def test_a_configured_share_is_kept() -> None:
    budget = Budget.from_settings(JobSettings(max_client_result_bytes=300 * MIB), ServerSettings())
    assert budget.client_results == 300 * MIB


@pytest.mark.parametrize("key", ["max_stored_result_bytes", "max_client_result_bytes"])
def test_a_budget_below_one_jobs_reservation_is_refused(key: str) -> None:
    with pytest.raises(ConfigError, match=f"jobs.{key} must be at least jobs.max_result_bytes"):
        load_settings(None, {}, {"jobs": {"max_result_bytes": 10 * MIB, key: MIB}})


def test_a_negative_share_is_refused() -> None:
    with pytest.raises(ConfigError, match="must not be negative"):
        load_settings(None, {}, {"jobs": {"max_client_payload_bytes": -1}})
