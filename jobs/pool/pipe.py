"""The event loop's end of a worker's pipe: framed messages over a non-blocking socket.

Workers use a plain blocking `multiprocessing.connection.Connection`; this side speaks the same
framing (a 4-byte big-endian length, or -1 and an 8-byte length for huge messages, then a pickle)
through an asyncio transport. Reading a message in pieces as they arrive, rather than with the
blocking `Connection.recv`, is what keeps a large result from stalling the loop, and what keeps the
framing intact when the loop (uvloop does) puts the socket in non-blocking mode.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from collections.abc import Callable
from typing import Any, cast

HEADER = struct.Struct("!i")
LONG_HEADER = struct.Struct("!Q")
LARGEST_SHORT_FRAME = 0x7FFFFFFF


class FramedPipe(asyncio.Protocol):
    """Delivers each whole message to `on_message`, and `on_closed` once when the other end is gone."""

    def __init__(self, on_message: Callable[[Any], None], on_closed: Callable[[], None]) -> None:
        self._on_message = on_message
        self._on_closed = on_closed
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._outgoing: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (frame := self._next_frame()) is not None:
            self._on_message(pickle.loads(frame))  # noqa: S301 - our own worker, over our own socketpair

    def _next_frame(self) -> bytes | None:
        if len(self._buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buffer)
        start = HEADER.size
        if size == -1:
            if len(self._buffer) < HEADER.size + LONG_HEADER.size:
                return None
            (size,) = LONG_HEADER.unpack_from(self._buffer, HEADER.size)
            start += LONG_HEADER.size
        if len(self._buffer) < start + size:
            return None
        frame = bytes(self._buffer[start : start + size])
        del self._buffer[: start + size]
        return frame

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self._on_closed()

    def send(self, message: Any) -> bool:
        """Queue a message for the worker; False when the pipe is already closed."""
        if self._transport is None or self._transport.is_closing():
            return False
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > LARGEST_SHORT_FRAME:
            header = HEADER.pack(-1) + LONG_HEADER.pack(len(data))
        else:
            header = HEADER.pack(len(data))
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing += (header, data)
        return True

    def _flush(self) -> None:
        # One write per event-loop turn: the jobs queued in one turn reach the worker in one system
        # call and wake it once, instead of once each.
        outgoing, self._outgoing = self._outgoing, []
        if self._transport is not None and not self._transport.is_closing():
            self._transport.writelines(outgoing)

    def abort(self) -> None:
        """Drop the connection at once (the worker is gone or being killed)."""
        if self._transport is not None:
            self._transport.abort()
