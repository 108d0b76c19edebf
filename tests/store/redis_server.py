"""A private `redis-server` on a free loopback port, for tests (never the machine's own Redis)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.external_tools import require_program
from tests.process import free_port, stop_process
from tests.waiting import wait_until


def redis_server_binary() -> str:
    """The path of `redis-server`; skips without it, but fails in CI (env CI set), where it must run."""
    return require_program("redis-server", "redis-server")


class RedisServer:
    """One redis-server process; stop and start it again on the same port.

    Without persistence by default; with `appendonly` it keeps an append-only file in `workdir`, so a
    restart finds the data again.
    """

    def __init__(self, binary: str, workdir: Path, port: int | None = None, *, appendonly: bool = False) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        log_path = self.workdir / f"redis-{self.port}.log"
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes" if self.appendonly else "no"]
        with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([*args, "--dir", str(self.workdir)], stdout=log, stderr=log)
        process = self.process

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"redis-server exited with {process.returncode}; see {log_path}")
            return self.answers()

        wait_until(up, timeout, f"redis-server on port {self.port} to answer PING")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait until the port is closed."""
        if self.process is None:
            return
        stop_process(self.process, timeout=5)
        self.process = None

    def answers(self) -> bool:
        """True when something on the port answers PING with PONG."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def running_redis(workdir: Path) -> Iterator[RedisServer]:
    """A started RedisServer, stopped when the block ends."""
    server = RedisServer(redis_server_binary(), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
