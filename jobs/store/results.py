"""A stored result as the HTTP layer reads it: its length first, then its bytes a piece at a time.

A fetch never builds a copy of a whole result: the memory store hands out views of the bytes it holds,
the Redis store reads its result key a range at a time, each range written before the next is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class ResultGone(Exception):
    """The result was deleted or expired while it was being read: the answer cannot be completed."""


class StoredResult(Protocol):
    """A result's JSON bytes, exactly as its worker encoded them."""

    @property
    def size(self) -> int:
        """Its length in bytes (the answer's Content-Length is computed from it before any is read)."""

    def pieces(self, piece_bytes: int) -> AsyncIterator[bytes | memoryview]:
        """Its bytes in order, at most `piece_bytes` at a time; raises ResultGone if it vanishes."""


class HeldResult:
    """Bytes already in this process (the memory store's result, a record that still carries one)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        """Its length in bytes."""
        return len(self._data)

    @property
    def data(self) -> bytes:
        """The bytes themselves."""
        return self._data

    async def pieces(self, piece_bytes: int) -> AsyncIterator[bytes | memoryview]:
        """Views of the held bytes: no copy."""
        view = memoryview(self._data)
        for start in range(0, len(view), piece_bytes):
            yield view[start : start + piece_bytes]


NULL_RESULT = HeldResult(b"null")
