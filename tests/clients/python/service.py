"""Run a real `python server.py` with the demo endpoints for the client tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tests.process import run_server

CONFIG = """
[server]
shutdown_grace_seconds = 1
use_uvloop = false

[pool]
workers = 2

[jobs]
per_client_limit = {limit}
max_result_bytes = 1048576        # small results: each job reserves this of its client's share at admission
timeout_seconds = 30

[endpoints]
"/api/v1/demo/echo" = {{ handler = "handlers.demo:echo", estimated_seconds = 1 }}
"/api/v1/demo/sleep" = {{ handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep" }}
"/api/v1/demo/fail" = {{ handler = "tests.fault_handlers:fail", estimated_seconds = 1 }}
"""


def serve(folder: Path, limit: int = 10) -> Iterator[str]:
    """Run the service with the demo endpoints and `limit` jobs per client; yield its URL."""
    with run_server(folder, config=CONFIG.format(limit=limit)) as server:
        yield server.url
