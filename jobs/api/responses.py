"""Compact JSON answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web


def dumps(data: Any) -> str:
    """Compact JSON; NaN is refused because clients' parsers reject it."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


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
    prefix = f"{dumps(head)[:-1]},{dumps(raw_key)}:".encode()
    suffix = ("".join(f",{dumps(key)}:{dumps(value)}" for key, value in tail.items()) + "}").encode()
    return await send_json_bytes(request, prefix, raw_json, suffix)


async def send_json_bytes(request: web.Request, *parts: bytes) -> web.StreamResponse:
    """Send `parts`, one JSON text once joined, without joining them (see `send_json_with_raw`)."""
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.content_length = sum(len(part) for part in parts)
    await response.prepare(request)
    try:
        if request.method != "HEAD":
            for part in parts:
                view = memoryview(part)
                for start in range(0, len(view), RAW_CHUNK_BYTES):
                    await response.write(view[start : start + RAW_CHUNK_BYTES])
        await response.write_eof()
    except ConnectionError:  # aiohttp raises ConnectionError or ClientConnectionResetError
        pass  # the client hung up mid-answer: nothing is left to tell it (a retry within the grace gets it)
    return response
