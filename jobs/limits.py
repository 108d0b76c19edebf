"""Concurrency limits: small objects that count what is held, per key and in total."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from jobs.errors import ClientLimitReached, WatchLimitReached


class ConcurrencyLimit:
    """At most `per_key` concurrent holders per key and `total` overall; `hold` raises when full."""

    def __init__(
        self,
        name: str,
        per_key: int,
        total: int,
        retry_after: int = 1,
        error: type[ClientLimitReached] = WatchLimitReached,
    ) -> None:
        if per_key < 1 or total < 1:
            raise ValueError(f"{name}: limits must be at least 1, not per_key={per_key}, total={total}")
        self.name = name
        self.per_key = per_key
        self.total = total
        self._retry_after = retry_after
        self._error = error
        self._held: Counter[str] = Counter()

    @property
    def in_use(self) -> int:
        """How many are held right now, over all keys."""
        return sum(self._held.values())

    def acquire(self, key: str) -> None:
        """Take one for `key`, or raise ClientLimitReached without taking anything."""
        if self._held[key] >= self.per_key:
            raise self._error(
                f"you already hold {self.per_key} open {self.name}, the maximum; close one first",
                retry_after=self._retry_after,
            )
        if self.in_use >= self.total:
            raise self._error(
                f"the service holds its maximum of {self.total} open {self.name}", retry_after=self._retry_after
            )
        self._held[key] += 1

    def release(self, key: str) -> None:
        """Give back one taken with `acquire`."""
        if self._held[key] <= 0:
            raise ValueError(f"{self.name}: release for {key!r} without a matching acquire")
        self._held[key] -= 1
        if not self._held[key]:
            del self._held[key]

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Acquire for the block; release in `finally` only what was acquired."""
        self.acquire(key)
        try:
            yield
        finally:
            self.release(key)
