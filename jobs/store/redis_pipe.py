"""One Redis connection that carries every caller's commands at once: pipelined, replies in order.

redis-py gives each command a pooled connection of its own: about 45 us of the event loop per round
trip (the pool, a timeout per read, a read wake-up per reply), and under load a job's few scripts and
reads made that a good part of the API's time. Redis answers the commands of one connection in the
order they were sent, so one connection can be shared: the commands of one event-loop turn leave in
one write, each command's future waits in a queue, and a reader task hands each reply to the oldest
waiting future. A command costs a few microseconds.

Failure semantics are those of a pooled connection with no retry: a command whose reply does not come
fails with ConnectionError (the connection dropped) or TimeoutError (no reply for `timeout` seconds,
after which the connection is closed, since every reply behind it would be as late), and the next
command opens a new connection. Whether a failed write ran is unknown, as before: the callers decide
what may run twice (jobs/store/redis.py).

The connection itself comes from redis-py (its URL parsing, AUTH, SELECT, TLS and unix sockets); this
module only takes over its streams once it is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("docjobs.redis_store")

# Bytes asked of the socket per read: replies of many commands come in one read under load.
READ_BYTES = 256 * 1024

Arg = str | bytes | int | float


class Script:
    """A Lua script known by its SHA1, loaded into Redis on first use (and again after a restart)."""

    def __init__(self, source: str) -> None:
        self.source = source
        # Redis names scripts by SHA1: an identifier, not a security measure.
        self.sha = hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


class PipelinedRedis:
    """Commands from any number of coroutines over one connection, written at once, answered in order."""

    def __init__(
        self, pool: ConnectionPool, *, decode: bool, timeout: float, clock: Callable[[], float] = time.monotonic
    ):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._pool = pool  # only for its connection class and settings: no connection is taken from it
        self._decode = decode
        self._timeout = timeout
        self._clock = clock
        self._link: _Link | None = None
        self._opening: asyncio.Future[_Link] | None = None

    async def execute(self, *args: Arg) -> Any:
        """Send one command; its reply, or the redis-py exception its error reply maps to."""
        link = await self._open()
        return await link.send(_pack(args))

    async def evalsha(self, script: Script, *args: Arg) -> Any:
        """Run the script with no keys and these arguments; loads it first when Redis does not know it."""
        try:
            return await self.execute("EVALSHA", script.sha, 0, *args)
        except NoScriptError:
            # The script did not run: loading it and running it again runs it once.
            await self.execute("SCRIPT", "LOAD", script.source)
            return await self.execute("EVALSHA", script.sha, 0, *args)

    async def aclose(self) -> None:
        """Close the connection; commands still waiting fail with ConnectionError."""
        if self._link is not None:
            await self._link.close(RedisConnectionError("the store was closed"))
            self._link = None

    async def _open(self) -> _Link:
        if self._link is not None and not self._link.closed:
            return self._link
        if self._opening is not None:  # another command is opening it: wait for that one
            return await asyncio.shield(self._opening)
        self._opening = asyncio.get_running_loop().create_future()
        try:
            connection = self._pool.connection_class(**self._pool.connection_kwargs)
            await connection.connect()  # type: ignore[no-untyped-call]
            link = _Link(connection, self._decode, self._timeout, self._clock)
        except BaseException as exc:
            # The commands waiting for this open fail as a connection error would, even when it was the
            # opening command that was cancelled: they were not.
            failure = (
                exc if isinstance(exc, Exception) else RedisConnectionError("the connection's opening was cancelled")
            )
            self._opening.set_exception(failure)
            self._opening.exception()  # retrieved: a failed open with no other waiter is not "never retrieved"
            raise
        finally:
            opening, self._opening = self._opening, None
        self._link = link
        opening.set_result(link)
        return link


class Subscription:
    """A SUBSCRIBE connection whose messages are read many at a time.

    redis-py's `PubSub.get_message` costs tens of microseconds a message, and every instance reads every
    announcement of the fleet (several per job): with many instances that was a good part of each one's
    loop. Here one socket read gives all the messages that arrived, parsed by hiredis.
    """

    def __init__(self, pool: ConnectionPool, channel: str) -> None:
        self._pool = pool
        self._channel = channel
        self._connection: AbstractConnection | None = None

    async def batches(self) -> AsyncIterator[list[Any]]:
        """Lists of replies as they arrive: ["subscribe", channel, n] first, then ["message", channel, data].

        Raises ConnectionError when the connection drops; runs until then, or until cancelled.
        """
        connection = self._pool.connection_class(**self._pool.connection_kwargs)
        self._connection = connection
        await connection.connect()  # type: ignore[no-untyped-call]
        reader, writer = connection._reader, connection._writer
        assert reader is not None and writer is not None
        parser = hiredis.Reader(encoding="utf-8")
        writer.write(_pack(("SUBSCRIBE", self._channel)))
        while True:
            try:
                data = await reader.read(READ_BYTES)
            except OSError as exc:
                raise RedisConnectionError(f"Error reading from Redis: {exc}") from exc
            if not data:
                raise RedisConnectionError("Connection closed by server.")
            parser.feed(data)
            batch = []
            while (reply := parser.gets()) is not False:
                batch.append(reply)
            if batch:
                yield batch

    async def aclose(self) -> None:
        """Close the connection (unsubscribing with it)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.disconnect()
            self._connection = None


class _Link:
    """One open connection: the futures waiting for replies, oldest first, and the task that reads them."""

    def __init__(self, connection: AbstractConnection, decode: bool, timeout: float, clock: Callable[[], float]):
        self._connection = connection
        reader, writer = connection._reader, connection._writer
        assert reader is not None and writer is not None
        self._reader = reader
        self._writer = writer
        self._parser = hiredis.Reader(encoding="utf-8") if decode else hiredis.Reader()
        self._timeout = timeout
        self._clock = clock
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._loop = asyncio.get_running_loop()
        self._watchdog: asyncio.TimerHandle | None = None
        self._unsent: list[bytes] = []
        self.closed = False
        self._reading = asyncio.create_task(self._read_forever())

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise RedisConnectionError("Connection closed")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._waiting.append((future, self._clock() + self._timeout))
        # The commands of one loop turn leave in one write: one system call, and one read for Redis.
        self._unsent.append(packed)
        if len(self._unsent) == 1:
            self._loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = self._loop.call_later(self._timeout, self._check_overdue)
        return future

    def _flush(self) -> None:
        if not self.closed:
            self._writer.write(b"".join(self._unsent))
        self._unsent.clear()

    async def _read_forever(self) -> None:
        try:
            while True:
                data = await self._reader.read(READ_BYTES)
                if not data:
                    raise RedisConnectionError("Connection closed by server.")
                self._parser.feed(data)
                while (reply := self._parser.gets()) is not False:
                    self._answer(reply)
        except asyncio.CancelledError:
            raise
        except RedisConnectionError as exc:
            await self.close(exc)
        except OSError as exc:
            await self.close(RedisConnectionError(f"Error reading from Redis: {exc}"))
        except Exception as exc:  # a reply that cannot be parsed (or decoded): the stream is lost
            log.exception("unreadable reply from Redis; reconnecting")
            await self.close(RedisConnectionError(f"unreadable reply from Redis ({type(exc).__name__})"))

    def _answer(self, reply: Any) -> None:
        if not self._waiting:
            return  # nothing asked for it (cannot happen while Redis answers in order)
        future, _ = self._waiting.popleft()
        if future.done():
            return  # its caller was cancelled: the reply is dropped, the order kept
        if isinstance(reply, hiredis.ReplyError):
            future.set_exception(BaseParser.parse_error(str(reply)))  # type: ignore[no-untyped-call]
        else:
            future.set_result(reply)

    def _check_overdue(self) -> None:
        self._watchdog = None
        if self.closed or not self._waiting:
            return
        _, deadline = self._waiting[0]
        late = deadline - self._clock()
        if late <= 0:
            # Replies come in order: every command behind the oldest is as late. Start afresh.
            self._loop.create_task(self.close(RedisTimeoutError("Timeout reading from Redis")))
            return
        self._watchdog = self._loop.call_later(late, self._check_overdue)

    async def close(self, failure: Exception) -> None:
        if self.closed:
            return
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(failure)
                future.exception()  # a caller that gave up must not leave it "never retrieved"
        if asyncio.current_task() is not self._reading:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reading
        with contextlib.suppress(Exception):
            await self._connection.disconnect()


def _pack(args: tuple[Arg, ...]) -> bytes:
    """A command in the protocol Redis reads (RESP): an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode("utf-8")
        elif isinstance(arg, bool):
            raise TypeError("a Redis argument cannot be a bool")
        elif isinstance(arg, int):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(arg).encode("ascii")  # every digit, as redis-py sends a float
        else:
            raise TypeError(f"a Redis argument cannot be a {type(arg).__name__}")
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)
