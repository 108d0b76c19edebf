"""Readiness of the worker pool: a pool that stays short of workers is broken, not merely respawning.

A dead worker is replaced within about a second (a fork from the forkserver and the handler modules'
import). A pool that stays short for longer cannot start replacements (the forkserver stalled or gone,
a process or memory limit): it runs its jobs on fewer workers than configured, and a load balancer
should know, even though some workers still live.
"""

from __future__ import annotations

from jobs.model import Clock

# Past any respawn: on a loaded 2-core machine a replacement is attached within 2 s.
RESPAWN_ALLOWANCE_SECONDS = 5.0


class PoolShortfall:
    """Since when the pool has had fewer live workers than its size, as readiness probes saw it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._short_since: float | None = None

    def problem(self, live: int, size: int) -> str | None:
        """What readiness should say about the pool now; None while it is whole or just respawning."""
        now = self._clock()
        if live >= size:
            self._short_since = None
            return None
        if live == 0:
            return "no live worker processes"
        if self._short_since is None:
            self._short_since = now
        short_for = now - self._short_since
        if short_for < RESPAWN_ALLOWANCE_SECONDS:
            return None
        return f"only {live} of {size} worker processes live for {short_for:.0f} s: replacements do not start"
