"""A count read from the store a moment ago, which a caller that needs no exact figure may reuse."""

from __future__ import annotations

import time
from collections.abc import Callable


class RecentCount:
    """The last value seen and when (on a monotonic clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._value: int | None = None
        self._at = 0.0

    def saw(self, value: int) -> None:
        """The store just said `value`."""
        self._value, self._at = value, self._clock()

    def recent(self, max_age: float) -> int | None:
        """The value, if it was seen at most `max_age` seconds ago; else None."""
        if self._value is None or self._clock() - self._at > max_age:
            return None
        return self._value
