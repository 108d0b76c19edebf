"""Reading what a client sent: its JSON body, its identity, its request id."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from jobs.errors import BodyTooLarge, InvalidJson, UnsupportedMediaType

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Bodies above this are parsed in a thread: 256 KiB costs the event loop a millisecond or two, while a
# 25 MiB body of small objects stalled every other request for seconds.
PARSE_INLINE_MAX_BYTES = 256 * 1024


async def read_json(request: web.Request, max_bytes: int) -> tuple[Any, int]:
    """The body parsed as JSON, and its size; clear errors for every way it can be wrong."""
    content_type = request.content_type
    if request.headers.get("Content-Type") and not (
        content_type == "application/json" or content_type.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"send the body as JSON with 'Content-Type: application/json', not {content_type[:100]!r}"
        )
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyTooLarge(f"the body is {request.content_length} bytes; the limit is {max_bytes}")
    raw = await request.read()  # aiohttp stops at client_max_size (= max_bytes) with a 413
    if not raw:
        raise InvalidJson("the request body is empty; send a JSON object")
    if len(raw) > PARSE_INLINE_MAX_BYTES:
        return await asyncio.to_thread(parse_json, raw, yielding=True), len(raw)
    return parse_json(raw), len(raw)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A Python-level hook: the C parser calls back into the interpreter for every object, where the
    # thread hands the GIL to the event loop every switch interval. Without it json.loads holds the
    # GIL from start to end, and parsing in a thread would stall the loop as much as parsing on it.
    return dict(pairs)


def parse_json(raw: bytes, *, yielding: bool = False) -> Any:
    """A body's bytes as JSON, or InvalidJson saying what is wrong with them.

    `yielding` (in a thread) lets other threads run between the objects it builds.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_object if yielding else None)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer too long to convert (Python caps them at 4,300 digits)
        raise InvalidJson(f"the body's JSON cannot be read: {exc}") from None
    except RecursionError:
        raise InvalidJson("the body's JSON is nested too deeply") from None


def parse_networks(specs: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Trusted proxy addresses or networks, as parsed networks."""
    return tuple(ipaddress.ip_network(spec, strict=False) for spec in specs)


def client_address(request: web.Request, trusted_proxies: Sequence[IPNetwork]) -> str:
    """Who is asking: the peer, or behind trusted proxies the right-most untrusted X-Forwarded-For hop."""
    peer = request.remote or "unknown"
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", []) for hop in value.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain cannot be trusted past this point
        if not any(address in network for network in trusted_proxies):
            return str(address)
    return peer


def _is_trusted(peer: str, trusted_proxies: Sequence[IPNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted_proxies)


def request_id(request: web.Request) -> str:
    """The caller's X-Request-ID when it is safe to echo back, else a fresh one."""
    given = request.headers.get("X-Request-ID", "")
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def request_json_field(body: Any, name: str) -> Any:
    """A top-level field of a JSON object body (None when absent)."""
    if not isinstance(body, dict):
        raise InvalidJson("the body must be a JSON object")
    return body.get(name)
