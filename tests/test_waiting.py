"""The tests' waiting helpers: they return what the check found, and fail naming what never happened."""

from __future__ import annotations

import itertools

import pytest

from tests.waiting import wait_until, wait_until_async


def test_wait_until_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "third", 5, "the counter", interval=0) == "third"


def test_wait_until_fails_after_the_deadline_naming_the_event() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s waiting for the moon"):
        wait_until(lambda: False, 0.05, "the moon", interval=0.01)


def test_exceptions_of_the_ignored_types_count_as_not_yet() -> None:
    attempts = itertools.count()

    def flaky() -> bool:
        if next(attempts) < 2:
            raise ConnectionRefusedError
        return True

    assert wait_until(flaky, 5, "a connection", interval=0, ignoring=(ConnectionError,))
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, 5, "a division", ignoring=(ConnectionError,))


async def test_the_async_twin_awaits_coroutine_checks_and_calls_plain_ones() -> None:
    counter = itertools.count()

    async def reached() -> int | None:
        value = next(counter)
        return value if value >= 2 else None

    assert await wait_until_async(reached, 5, "two", interval=0) == 2
    assert await wait_until_async(lambda: next(counter) >= 5, 5, "five", interval=0) is True


async def test_the_async_twin_describes_the_last_state_on_failure() -> None:
    seen: list[int] = []

    def never() -> bool:
        seen.append(len(seen))
        return False

    with pytest.raises(AssertionError, match=r"waiting for a change; last of \d+ looks"):
        await wait_until_async(never, 0.05, lambda: f"a change; last of {len(seen)} looks", interval=0.01)
