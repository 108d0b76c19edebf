"""GET /dashboard in a real browser: Debian's chromium, driven headless by Playwright."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import ServiceFactory, start_job, wait_finished, wait_for
from tests.external_tools import require_module, require_program

if TYPE_CHECKING:
    from playwright.async_api import Page

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "dashboard.png"
SLEEP = "/api/v1/demo/sleep"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh page in headless Debian chromium."""
    chromium = require_program("chromium", "chromium")
    require_module("playwright", "playwright (requirements-dev.txt)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 820})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            yield page
            assert errors == [], errors  # a CSP violation or a script error shows up here
        finally:
            await browser.close()


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def progress_of(page: Page, job_id: str) -> int | None:
    """The value of the job's progress bar, or None while its row is not shown."""
    bar = page.locator(f'tr[data-job-id="{job_id}"] progress')
    if await bar.count() == 0:
        return None
    value = await bar.get_attribute("value")
    return int(value) if value is not None else None


async def test_dashboard_is_a_self_contained_page_with_a_strict_policy(start_service: ServiceFactory) -> None:
    client = await start_service()
    response = await client.get("/dashboard")
    html = await response.text()
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert "script-src 'sha256-" in policy
    assert "unsafe-inline" not in policy
    assert "http://" not in html
    assert "https://" not in html  # no CDN: everything is inline


async def test_running_job_progress_moves_and_cancel_removes_it(start_service: ServiceFactory, page: Page) -> None:
    client = await start_service(workers=2)
    done = await start_job(client, "/api/v1/demo/echo", {"hello": "dashboard"})
    failed = await start_job(client, "/api/v1/demo/fail", {"message": "Excel file not found"})
    for job_id in (done, failed):
        await wait_finished(client, job_id)
    job_id = await start_job(client, SLEEP, {"seconds": 8, "steps": 16})
    await wait_for(client, job_id, lambda s: s["status"] == "running")

    await page.goto(str(client.make_url("/dashboard")))

    row = page.locator(f'tr[data-job-id="{job_id}"]')
    first = await eventually(lambda: progress_of(page, job_id), "a progress value above 0")
    later = await eventually(
        lambda: _above(progress_of(page, job_id), first), f"the bar to move past {first}", timeout=6
    )
    assert later > first
    assert await row.get_attribute("data-status") == "running"
    assert await page.locator(f'tr[data-job-id="{failed}"]').get_attribute("data-status") == "failed"
    busy = page.locator("#cards .card", has_text="Workers busy")
    assert "1 / 2" in await busy.inner_text()
    if os.environ.get("DOCJOBS_WRITE_SCREENSHOT") == "1":
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

    await row.locator("button.cancel").click()

    await eventually(lambda: _gone(page, job_id), "the cancelled job's row to disappear")
    status = await client.get(f"/api/v1/jobs/{job_id}/status")
    assert status.status == 404


async def _above(value: Awaitable[int | None], floor: int) -> int | None:
    current = await value
    return current if current is not None and current > floor else None


async def _gone(page: Page, job_id: str) -> bool:
    return await page.locator(f'tr[data-job-id="{job_id}"]').count() == 0
