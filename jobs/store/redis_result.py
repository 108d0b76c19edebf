"""A result in its own Redis key, read a range at a time: 20 stalled readers hold 20 pieces, not 20 copies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from redis.asyncio import Redis

from jobs.store.results import ResultGone

# A result up to this size is read whole, in one GETRANGE, and served from memory, as one piece of a
# larger one would be: the STRLEN and the second round trip are saved on nearly every fetch.
SMALL_RESULT_BYTES = 256 * 1024


class RedisResult:
    """The result under `key` (a string of `size` bytes), streamed with GETRANGE."""

    def __init__(self, client: Redis, key: str, size: int, errors: tuple[type[Exception], ...]) -> None:
        self._client = client  # one that does not decode replies: the bytes go out exactly as stored
        self._key = key
        self._size = size
        self._errors = errors

    @property
    def size(self) -> int:
        """The result's length in bytes (its STRLEN when it was opened)."""
        return self._size

    async def pieces(self, piece_bytes: int) -> AsyncIterator[bytes | memoryview]:
        """Each range is read only once the one before was handed on (written to the client)."""
        for start in range(0, self._size, piece_bytes):
            end = min(start + piece_bytes, self._size)
            try:
                piece = cast(bytes, await self._client.getrange(self._key, start, end - 1))
            except self._errors as exc:
                raise ResultGone(f"Redis stopped answering mid-result ({type(exc).__name__})") from exc
            if len(piece) != end - start:
                raise ResultGone("the result was deleted or expired while it was being sent")
            yield piece
