"""GET /dashboard: one self-contained page of live jobs, progress, workers, queue and memory."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from jobs.api.keys import DASHBOARD

PAGE_PATH = Path(__file__).resolve().parents[1] / "static" / "dashboard.html"
INLINE_BLOCK = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class DashboardPage:
    """The page's HTML and the Content-Security-Policy that admits exactly its own inline code."""

    html: bytes
    content_security_policy: str

    @classmethod
    def load(cls, path: Path = PAGE_PATH) -> DashboardPage:
        """Read the page and hash its inline <script> and <style> blocks for the policy."""
        text = path.read_text(encoding="utf-8")
        hashes: dict[str, list[str]] = {"script": [], "style": []}
        for tag, content in INLINE_BLOCK.findall(text):
            digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
            hashes[tag].append(f"'sha256-{digest}'")
        # Hashes instead of 'unsafe-inline': an injected <script> would not run even if one got in.
        sources = {tag: " ".join(found) or "'none'" for tag, found in hashes.items()}
        policy = "; ".join(
            (
                "default-src 'none'",
                f"script-src {sources['script']}",
                f"style-src {sources['style']}",
                "connect-src 'self'",
                "img-src 'self' data:",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            )
        )
        return cls(text.encode(), policy)


def setup_dashboard(app: web.Application) -> None:
    """Add GET /dashboard, serving the page shipped in the package."""
    app[DASHBOARD] = DashboardPage.load()
    app.router.add_get("/dashboard", dashboard)


async def dashboard(request: web.Request) -> web.Response:
    """The dashboard page; it polls the jobs API itself from the browser."""
    page = request.app[DASHBOARD]
    return web.Response(
        body=page.html,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": page.content_security_policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
