"""Failed background store writes are logged once per run of failures, never as unretrieved exceptions."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from jobs.background import BackgroundWrites
from jobs.errors import StoreUnavailable


async def refused() -> None:
    raise StoreUnavailable("the job store (Redis at 127.0.0.1:1) is unavailable", retry_after=2)


async def accepted() -> None:
    return None


async def test_a_run_of_failed_writes_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.background")
    writes = BackgroundWrites(log)
    with caplog.at_level(logging.WARNING, logger="test.background"):
        await asyncio.gather(*(writes.spawn(refused()) for _ in range(5)), return_exceptions=True)
        await asyncio.sleep(0)  # done callbacks run one loop turn after the tasks end
        await writes.spawn(accepted())
        await asyncio.sleep(0)
        gc.collect()  # an unretrieved task exception would be reported when the task is collected
    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "write failed" in m]) == 1, messages
    assert any("succeed again" in m for m in messages), messages
    assert not any("never retrieved" in m for m in messages), messages
    assert writes.tasks == set()
