"""Compact JSON answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from jobs.jsontext import Encode, compact_json
from jobs.store.results import HeldResult, ResultGone, StoredResult

log = logging.getLogger("docjobs.responses")


# Compact JSON; NaN is refused because clients' parsers reject it.
dumps: Encode = compact_json(allow_nan=False)


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer with the given status and headers."""
    return web.Response(text=dumps(data), status=status, headers=headers, content_type="application/json")


# A spliced result is written this much at a time, each write waiting until the client has taken the
# one before: a client that does not read pins one chunk of the held bytes, never a copy of them all.
RAW_CHUNK_BYTES = 256 * 1024


async def send_json_with_raw(
    request: web.Request, head: dict[str, Any], raw_key: str, raw_json: bytes, tail: dict[str, Any]
) -> web.StreamResponse:
    """Send a JSON object whose `raw_key` value is JSON already encoded (by a worker), spliced in as is.

    Results can be many megabytes: re-encoding them on the event loop would stall it, and joining them
    into one body would copy them per fetch. The held bytes are written straight from a memoryview.
    HEAD gets the same status and headers (Content-Length included) and no body.
    """
    return await send_json_with_result(request, head, raw_key, HeldResult(raw_json), tail)


async def send_json_bytes(request: web.Request, *parts: bytes) -> web.StreamResponse:
    """Send `parts`, one JSON text once joined, without joining them (see `send_json_with_raw`)."""
    return await send_json_pieces(request, *(HeldResult(part) for part in parts))


async def send_json_with_result(
    request: web.Request, head: dict[str, Any], raw_key: str, result: StoredResult, tail: dict[str, Any]
) -> web.StreamResponse:
    """`send_json_with_raw` for a stored result that may live outside this process (a Redis key)."""
    prefix = f"{dumps(head)[:-1]},{dumps(raw_key)}:".encode()
    suffix = ("".join(f",{dumps(key)}:{dumps(value)}" for key, value in tail.items()) + "}").encode()
    return await send_json_pieces(request, HeldResult(prefix), result, HeldResult(suffix))


async def send_json_pieces(request: web.Request, *parts: StoredResult) -> web.StreamResponse:
    """Send `parts` in order, each read a piece at a time and written before the next piece is read."""
    if request.method != "HEAD" and all(isinstance(part, HeldResult) for part in parts):
        small = [part.data for part in parts if isinstance(part, HeldResult)]
        if sum(len(data) for data in small) <= RAW_CHUNK_BYTES:
            # The common small answer (most results, every status): one body, one write. Joining
            # copies at most one chunk, which a stalled reader could pin anyway.
            return web.Response(body=b"".join(small), content_type="application/json")
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.content_length = sum(part.size for part in parts)
    await response.prepare(request)
    try:
        if request.method != "HEAD":
            for part in parts:
                if isinstance(part, HeldResult) and part.size <= RAW_CHUNK_BYTES:
                    await response.write(part.data)  # the common small answer: no generator, no view
                    continue
                async for piece in part.pieces(RAW_CHUNK_BYTES):
                    await response.write(piece)
        await response.write_eof()
    except ConnectionError:  # aiohttp raises ConnectionError or ClientConnectionResetError
        pass  # the client hung up mid-answer: nothing is left to tell it (a retry within the grace gets it)
    except ResultGone as exc:
        # The status and length are sent: all that is left is to cut the connection, so the client
        # sees a short body, never a well-formed but wrong one.
        log.warning("a result answer was cut short: %s", exc)
        if request.transport is not None:
            request.transport.abort()
    return response
