"""Waiting in tests: poll for the event itself (a status, a log line, a file, a process state) until a
deadline, never sleep a fixed time and hope it happened. One helper for blocking code, one for async."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

# Short enough that a test waits barely longer than the event takes; long enough not to compete for
# the CPU with the service under test on a loaded machine.
POLL_SECONDS = 0.02

Description = str | Callable[[], str]


def _failure(what: Description, timeout: float) -> AssertionError:
    text = what() if callable(what) else what
    return AssertionError(f"timed out after {timeout:g} s waiting for {text}")


def wait_until(
    check: Callable[[], T | None],
    timeout: float,
    what: Description,
    *,
    interval: float = POLL_SECONDS,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """Call `check` until it returns something truthy, and return that; fail naming `what` after `timeout`.

    `what` may be a callable, evaluated only on failure (to describe the last state seen). Exceptions of
    the `ignoring` types count as "not yet" (e.g. connection refused while a server starts).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except ignoring:
            pass
        if time.monotonic() >= deadline:
            raise _failure(what, timeout)
        time.sleep(interval)  # the pause between two looks at the event, not a wait for it


@overload
async def wait_until_async(
    check: Callable[[], Awaitable[T | None]],
    timeout: float,
    what: Description,
    *,
    interval: float = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


@overload
async def wait_until_async(
    check: Callable[[], T | None],
    timeout: float,
    what: Description,
    *,
    interval: float = ...,
    ignoring: tuple[type[Exception], ...] = ...,
) -> T: ...


async def wait_until_async(
    check: Callable[[], Any],
    timeout: float,
    what: Description,
    *,
    interval: float = POLL_SECONDS,
    ignoring: tuple[type[Exception], ...] = (),
) -> Any:
    """The async twin of `wait_until`: `check` may be a plain function or a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            outcome = check()
            value = await outcome if inspect.isawaitable(outcome) else outcome
            if value:
                return value
        except ignoring:
            pass
        if time.monotonic() >= deadline:
            raise _failure(what, timeout)
        await asyncio.sleep(interval)  # the pause between two looks at the event, not a wait for it
