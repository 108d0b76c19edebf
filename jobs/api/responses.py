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


def json_response_with_raw(
    head: dict[str, Any], raw_key: str, raw_json: str, tail: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A JSON object whose `raw_key` value is JSON text already encoded (by a worker), spliced in as is.

    Results can be many megabytes: decoding and re-encoding them on the event loop would stall it.
    """
    parts = [dumps(head)[:-1], f",{dumps(raw_key)}:", raw_json]
    for key, value in tail.items():
        parts.append(f",{dumps(key)}:{dumps(value)}")
    parts.append("}")
    return web.Response(text="".join(parts), status=status, content_type="application/json")
