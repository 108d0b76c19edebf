"""Run `python server.py` as a real subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Reachable(Protocol):
    """Anything with a base URL to send requests to: a ServerProcess, a cluster's Instance."""

    @property
    def url(self) -> str: ...


@dataclass
class ServerProcess:
    """A running server: its process, its base URL, and where its logs go."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 30) -> None:
    """Poll /healthz until it answers, failing early if the process died."""

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        with urllib.request.urlopen(f"{url}/healthz", timeout=1):
            return True

    unreachable = (urllib.error.URLError, ConnectionError, TimeoutError)
    wait_until(answers, timeout, lambda: f"the server to come up:\n{log_path.read_text()}", ignoring=unreachable)


def start_server(
    tmp_path: Path,
    args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    *,
    config: str | None = None,
) -> ServerProcess:
    """Start server.py and wait until it answers; the caller stops it (`stop_process`).

    With `config` (TOML text) and no `args` it runs `--config <that file> --port <port>`; with neither,
    `--port <port>`; `args`, when given, are the whole command line after server.py. Its log is appended
    to, so a server restarted on the same port keeps one log.
    """
    port = port or free_port()
    if config is not None:
        config_path = tmp_path / f"config-{port}.toml"
        config_path.write_text(config, encoding="utf-8")
        if args is None:
            args = ["--config", str(config_path), "--port", str(port)]
    log_path = tmp_path / f"server-{port}.log"
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [sys.executable, str(ROOT / "server.py"), *(args if args is not None else ["--port", str(port)])]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log_path)
    except BaseException:
        stop_process(process, timeout=20)
        raise
    return ServerProcess(process, url, log_path)


@contextmanager
def run_server(
    tmp_path: Path,
    args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    *,
    config: str | None = None,
) -> Iterator[ServerProcess]:
    """`start_server`, then stop it (SIGTERM, then kill) when the block ends."""
    server = start_server(tmp_path, args, env, port, config=config)
    try:
        yield server
    finally:
        stop_process(server.process, timeout=20)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def server_start_failure(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run server.py with `args`, expecting it to refuse to start; returns the finished process."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done
