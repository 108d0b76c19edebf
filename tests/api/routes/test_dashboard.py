"""GET /dashboard in a real browser: Debian's chromium, driven headless by Playwright."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import pytest

from jobs.settings import AuthSettings
from tests.conftest import ServiceFactory, start_job, wait_finished, wait_for
from tests.external_tools import require_module, require_program
from tests.process import ROOT
from tests.waiting import wait_until_async

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

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
SCREENSHOT = ROOT / "docs" / "dashboard.png"
SLEEP = "/api/v1/demo/sleep"

T = TypeVar("T")


@pytest.fixture
def browser_errors() -> list[str]:
    """Script errors and console errors of the page (a CSP violation shows up here); none are expected."""
    return []


@pytest.fixture
async def page(browser_errors: list[str]) -> AsyncIterator[Page]:
    """A fresh page in headless Debian chromium."""
    chromium = require_program("chromium", "chromium")
    require_module("playwright", "playwright (requirements-dev.txt)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 820})
            page = await context.new_page()
            page.on("pageerror", lambda error: browser_errors.append(str(error)))
            page.on("console", lambda msg: browser_errors.append(msg.text) if msg.type == "error" else None)
            yield page
            assert browser_errors == [], browser_errors
        finally:
            await browser.close()


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 10.0) -> T:
    """Poll `check` until it returns something truthy."""
    return await wait_until_async(check, timeout, what, interval=0.05)


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


async def test_with_api_keys_the_page_asks_for_a_key_and_sends_it(
    start_service: ServiceFactory, page: Page, browser_errors: list[str]
) -> None:
    from playwright.async_api import Route

    key = "dashboard-admin-key-0123456789"
    client = await start_service(auth=AuthSettings(keys=(("ops", key),), admin=("ops",)))
    headers = {"Authorization": f"Bearer {key}"}
    job_id = await start_job(client, "/api/v1/demo/echo", {"hello": "keys"}, headers=headers)

    async def authorize_page_only(route: Route) -> None:
        # Stands in for a proxy that authenticates the page itself; the API calls carry no key.
        await route.continue_(headers={**route.request.headers, **headers})

    await page.route("**/dashboard", authorize_page_only)
    await page.goto(str(client.make_url("/dashboard")))
    await page.locator("#key-form").wait_for(state="visible")
    assert await page.locator(f'tr[data-job-id="{job_id}"]').count() == 0

    await page.fill("#key", key)
    await page.click("#key-form button")

    await page.locator(f'tr[data-job-id="{job_id}"]').wait_for(state="attached", timeout=10_000)
    assert await page.locator("#key-form").is_hidden()
    # Chromium logs each refused call before the key was given; those are expected.
    browser_errors[:] = [e for e in browser_errors if "status of 401" not in e]


async def test_a_running_job_behind_a_page_of_finished_ones_is_shown(start_service: ServiceFactory, page: Page) -> None:
    """The list API pages (100 jobs by default, oldest first): the page follows the cursor to the end."""
    client = await start_service(workers=2, jobs={"per_client_limit": 1000, "max_pending": 1000})
    finished = [await start_job(client, "/api/v1/demo/echo", {"n": n}) for n in range(120)]
    for job_id in finished:
        await wait_finished(client, job_id)
    job_id = await start_job(client, SLEEP, {"seconds": 8, "steps": 16})
    await wait_for(client, job_id, lambda s: s["status"] == "running")

    await page.goto(str(client.make_url("/dashboard")))

    await eventually(lambda: progress_of(page, job_id), "the running job's row")
    count = page.locator("#job-count")
    await eventually(lambda: _has_text(count, " of 121)"), "the count of every job held")


async def _has_text(locator: Locator, text: str) -> bool:
    return text in await locator.inner_text()
