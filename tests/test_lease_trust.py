"""After a store outage or a stall, no instance presumes another dead until a lease of heartbeats passed."""

from __future__ import annotations

from jobs.cluster import LeaseTrust


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_at_start_up_lapsed_leases_are_believed() -> None:
    trust = LeaseTrust(10, FakeClock())
    trust.heartbeat_succeeded()
    assert trust.may_presume_others_dead()


def test_after_an_outage_a_full_lease_of_successful_heartbeats_must_pass() -> None:
    clock = FakeClock()
    trust = LeaseTrust(10, clock)
    trust.heartbeat_succeeded()
    trust.heartbeat_failed()
    assert not trust.may_presume_others_dead()
    clock.now += 60
    trust.heartbeat_succeeded()
    assert not trust.may_presume_others_dead()
    clock.now += 9
    trust.heartbeat_succeeded()
    assert not trust.may_presume_others_dead()
    clock.now += 1
    assert trust.may_presume_others_dead()


def test_a_stall_longer_than_a_lease_counts_as_an_outage() -> None:
    clock = FakeClock()
    trust = LeaseTrust(10, clock)
    trust.heartbeat_succeeded()
    clock.now += 25  # this instance was stopped: the others may have lapsed meanwhile too
    trust.heartbeat_succeeded()
    assert not trust.may_presume_others_dead()
    clock.now += 10
    trust.heartbeat_succeeded()
    assert trust.may_presume_others_dead()
