"""Worker room promised to claims on a shared store whose replies have not come back yet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager


class ClaimsInFlight:
    """Lets several claims be in flight at once without claiming more than the workers can take.

    A claim on Redis is a round trip, and under load a round trip is several event-loop turns. When
    claims went one at a time, a start that found another claim in flight only added its job, and the
    job waited for the dispatcher's next claim (measured: 9 starts in 10 claimed nothing, and their
    jobs waited 30 ms in the queue, two polls). Each claim now reserves the room it asks for until its
    jobs are in hand. A sweep for stray claims (jobs the store says this instance holds but it does
    not know of) must not run while a claim's reply is on its way, since those jobs look stray:
    `quiet` holds new claims back and waits for the ones in flight.
    """

    def __init__(self) -> None:
        self._reserved = 0  # a claim asks for room, so none is in flight exactly when this is 0
        self._none_in_flight = asyncio.Event()
        self._none_in_flight.set()
        self._quieting = 0

    @property
    def reserved(self) -> int:
        """Room promised to the claims in flight."""
        return self._reserved

    @property
    def held_back(self) -> bool:
        """True while a sweep waits or runs: no claim may start."""
        return self._quieting > 0

    @contextmanager
    def reserve(self, room: int) -> Iterator[None]:
        """Hold `room` (at least 1) for one claim from its request until its jobs are in hand (or it failed)."""
        if room < 1:
            raise ValueError("a claim asks for room for at least one job")
        self._reserved += room
        self._none_in_flight.clear()
        try:
            yield
        finally:
            self._reserved -= room
            if self._reserved == 0:
                self._none_in_flight.set()

    @asynccontextmanager
    async def quiet(self) -> AsyncIterator[None]:
        """Hold new claims back and wait until none is in flight, for the length of the block."""
        self._quieting += 1
        try:
            await self._none_in_flight.wait()
            yield
        finally:
            self._quieting -= 1
