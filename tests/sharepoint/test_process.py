"""The per-process behaviour: settings read lazily from the environment, one token per process,
calls from a fresh process and from inside a running event loop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.sharepoint import InvalidSetting, download, reset_process_cache

from .fake_graph import FakeGraph

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_env(fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The fake's DOCJOBS_SHAREPOINT_* variables, set in this process's environment."""
    env = fake_graph.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_environment_settings_and_one_token_per_process(fake_graph: FakeGraph, fake_env: dict[str, str]) -> None:
    items = [fake_graph.drive.add_file(f"b{n}.xlsx", b"data") for n in range(3)]

    for item in items:
        assert download(item.sharing_url).data == b"data"

    assert fake_graph.token_requests == 1


def test_reset_process_cache_rereads_the_environment(
    fake_graph: FakeGraph, fake_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    item = fake_graph.drive.add_file("b.xlsx", b"data")
    download(item.sharing_url)
    monkeypatch.setenv("DOCJOBS_SHAREPOINT_RETRY_ATTEMPTS", "zero")

    download(item.sharing_url)  # still the cached settings
    reset_process_cache()
    with pytest.raises(InvalidSetting, match="RETRY_ATTEMPTS"):
        download(item.sharing_url)


def test_settings_are_not_read_at_import_time() -> None:
    env = {**os.environ, "DOCJOBS_SHAREPOINT_RETRY_ATTEMPTS": "not-a-number"}
    code = "import handlers.sharepoint; print('imported')"

    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)

    assert done.stdout.strip() == "imported", done.stderr


def test_a_fresh_process_downloads_with_the_env_helper(fake_graph: FakeGraph) -> None:
    item = fake_graph.drive.add_file("b.xlsx", b"fresh process")
    code = (
        "import sys; from handlers.sharepoint import download\n"
        "for _ in range(2): print(download(sys.argv[1]).data.decode())"
    )

    done = subprocess.run(
        [sys.executable, "-c", code, item.sharing_url],
        env={**os.environ, **fake_graph.env()},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.stdout.splitlines() == ["fresh process", "fresh process"], done.stderr
    assert fake_graph.token_requests == 1


async def test_works_when_called_inside_a_running_event_loop(fake_graph: FakeGraph, fake_env: dict[str, str]) -> None:
    item = fake_graph.drive.add_file("b.xlsx", b"data")

    assert download(item.sharing_url).data == b"data"
