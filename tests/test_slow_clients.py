"""Slow clients on a live server.py: request heads and bodies have deadlines, connections a cap."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from jobs.api.connections import MAX_DERIVED_CONNECTIONS, derived_max_connections
from jobs.errors import ConfigError
from jobs.settings import load_settings
from tests.process import ServerProcess, run_server

HOST = "127.0.0.1"
CONFIG = """
[server]
request_head_timeout_seconds = {head}
request_body_timeout_seconds = {body}
max_connections = {cap}
use_uvloop = true

[pool]
workers = 1

[endpoints]
"/api/v1/demo/echo" = "handlers.demo:echo"
"""
PARTIAL_HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
# "Expect: 100-continue": the server's "100 Continue" says it has the head and runs the handler.
PARTIAL_BODY = (
    b"POST /api/v1/demo/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n{"a": "'
)
# Far longer than any deadline under test: a connection still open this long was never closed.
CLOSE_DEADLINE = 15.0


@contextlib.contextmanager
def slow_server(tmp_path: Path, head: float = 30, body: float = 30, cap: int = 0) -> Iterator[ServerProcess]:
    with run_server(tmp_path, config=CONFIG.format(head=head, body=body, cap=cap)) as server:
        yield server


def port_of(server: ServerProcess) -> int:
    return int(server.url.rsplit(":", 1)[1])


class Trickler:
    """A raw connection that sends its start, then one more byte every `every` seconds."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, every: float) -> None:
        self.reader, self.writer, self.every = reader, writer, every
        self.opened = time.monotonic()
        self._task = asyncio.create_task(self._drip())

    @classmethod
    async def open(cls, server: ServerProcess, start: bytes, every: float = 0.25) -> Trickler:
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        writer.write(start)
        await writer.drain()
        if b"Expect: 100-continue" in start:
            continued = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert continued.startswith(b"HTTP/1.1 100"), continued
        return cls(reader, writer, every)

    async def _drip(self) -> None:
        with contextlib.suppress(ConnectionError):
            while not self.writer.is_closing():
                await asyncio.sleep(self.every)  # the client's pace, not a wait for the server
                self.writer.write(b"x")
                await self.writer.drain()

    async def closed_after(self, deadline: float = CLOSE_DEADLINE) -> float:
        """Seconds from opening until the server closed the connection; fails past `deadline`."""
        try:
            data = await asyncio.wait_for(self.reader.read(), deadline)
            assert data == b"", f"the server answered a request it never fully received: {data[:200]!r}"
        except ConnectionError:
            pass  # aborted: a reset instead of a FIN
        return time.monotonic() - self.opened

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._task
        self.writer.close()


@contextlib.asynccontextmanager
async def tricklers(server: ServerProcess, count: int, start: bytes) -> AsyncIterator[list[Trickler]]:
    opened = [await Trickler.open(server, start) for _ in range(count)]
    try:
        yield opened
    finally:
        for trickler in opened:
            await trickler.close()


async def healthz(server: ServerProcess, timeout: float = 5.0) -> int:
    limit = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/healthz", timeout=limit) as response:
        return response.status


async def test_a_trickled_request_head_is_closed_after_the_head_timeout(tmp_path: Path) -> None:
    with slow_server(tmp_path, head=1) as server:
        async with tricklers(server, 5, PARTIAL_HEAD) as slow:
            assert await healthz(server) == 200, "the probe answers while the heads trickle"
            for trickler in slow:
                assert await trickler.closed_after() >= 0.9
        assert await healthz(server) == 200
    assert '"level":"error"' not in server.logs()


async def test_a_trickled_request_body_is_closed_after_the_body_timeout(tmp_path: Path) -> None:
    with slow_server(tmp_path, head=30, body=1) as server:
        async with tricklers(server, 5, PARTIAL_BODY) as slow:
            assert await healthz(server) == 200
            for trickler in slow:
                assert await trickler.closed_after() >= 0.9
        assert await healthz(server) == 200
    errors = [line for line in server.logs().splitlines() if '"level":"error"' in line]
    assert not errors, errors[:3]


async def test_a_kept_alive_connection_is_not_closed_by_the_head_timeout_while_idle(tmp_path: Path) -> None:
    with slow_server(tmp_path, head=0.5) as server:
        reader, writer = await asyncio.open_connection(HOST, port_of(server))
        try:
            for _ in range(2):
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                assert (await asyncio.wait_for(read_answer(reader), 5)).startswith(b"HTTP/1.1 200")
                await asyncio.sleep(1.0)  # idle past the head timeout on purpose: keep-alive governs idling
        finally:
            writer.close()


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


async def test_at_the_cap_a_new_connection_displaces_the_longest_waiting_head(tmp_path: Path) -> None:
    with slow_server(tmp_path, head=30, cap=4) as server:
        async with tricklers(server, 4, PARTIAL_HEAD) as slow:
            assert await healthz(server) == 200, "a probe gets in although slow heads fill every slot"
            assert await slow[0].closed_after() < CLOSE_DEADLINE, "the oldest waiting head made room"
    assert "connection limit reached" in server.logs()


async def test_at_the_cap_with_every_connection_inside_a_request_a_new_one_is_closed(tmp_path: Path) -> None:
    with slow_server(tmp_path, head=30, body=30, cap=3) as server:
        async with tricklers(server, 3, PARTIAL_BODY) as slow:
            refused = await Trickler.open(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                assert await refused.closed_after() < CLOSE_DEADLINE
            finally:
                await refused.close()
            await slow[0].close()  # one slot frees up: the probe gets in again
            assert await wait_for_healthz(server) == 200


async def wait_for_healthz(server: ServerProcess, deadline: float = 10.0) -> int:
    until = time.monotonic() + deadline
    while True:
        try:
            return await healthz(server, timeout=1.0)
        except (aiohttp.ClientError, TimeoutError):
            assert time.monotonic() < until, "the probe never got a connection back"
            await asyncio.sleep(0.05)


def test_the_default_cap_comes_from_the_fd_limit() -> None:
    assert derived_max_connections(256, workers=2) == 256 - 64 - 8
    assert derived_max_connections(40, workers=2) == 8, "a floor, even with a tiny fd limit"
    assert derived_max_connections(10**7, workers=2) == MAX_DERIVED_CONNECTIONS
    assert derived_max_connections(-1, workers=2) == MAX_DERIVED_CONNECTIONS


def test_connection_settings_are_read_and_validated() -> None:
    settings = load_settings(
        None,
        {
            "DOCJOBS_SERVER_REQUEST_HEAD_TIMEOUT_SECONDS": "5",
            "DOCJOBS_SERVER_REQUEST_BODY_TIMEOUT_SECONDS": "30",
            "DOCJOBS_SERVER_MAX_CONNECTIONS": "100",
        },
    )
    assert (settings.server.request_head_timeout_seconds, settings.server.request_body_timeout_seconds) == (5, 30)
    assert settings.server.max_connections == 100
    defaults = load_settings(None, {}).server
    assert (defaults.request_head_timeout_seconds, defaults.request_body_timeout_seconds) == (10, 60)
    with pytest.raises(ConfigError) as error:
        load_settings(
            None, {"DOCJOBS_SERVER_REQUEST_HEAD_TIMEOUT_SECONDS": "0", "DOCJOBS_SERVER_MAX_CONNECTIONS": "-1"}
        )
    assert "must be positive" in str(error.value) and "max_connections must not be negative" in str(error.value)
