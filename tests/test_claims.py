"""Worker room reserved by claims in flight, and the sweep that waits for them (jobs/claims.py)."""

from __future__ import annotations

import asyncio

from jobs.claims import ClaimsInFlight
from tests.waiting import wait_until_async

DEADLINE_SECONDS = 5.0


async def test_a_sweep_holds_new_claims_back_and_waits_for_those_in_flight() -> None:
    claims = ClaimsInFlight()
    swept = asyncio.Event()

    async def sweep() -> None:
        async with claims.quiet():
            swept.set()

    with claims.reserve(3):
        assert claims.reserved == 3
        sweeping = asyncio.create_task(sweep())
        await wait_until_async(lambda: claims.held_back, DEADLINE_SECONDS, "the sweep to begin")
        assert not swept.is_set(), "it waits while a claim is in flight"
    await asyncio.wait_for(sweeping, DEADLINE_SECONDS)
    assert swept.is_set() and claims.reserved == 0 and not claims.held_back
