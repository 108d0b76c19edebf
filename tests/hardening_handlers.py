"""Handlers for the hardening tests: how a handler can fail or write to stderr outside our control."""

from __future__ import annotations

import os
from typing import Any


def key_error(payload: dict[str, Any]) -> dict[str, Any]:
    """Fail as buggy handler code does: a lookup of a key the data does not have."""
    columns: dict[str, int] = {}
    return {"column": columns[str(payload.get("key", "x"))]}


def stderr_noise(payload: dict[str, Any]) -> dict[str, Any]:
    """Write to fd 2 past Python, as a Rust library's panic or a C library's warning does."""
    os.write(2, str(payload.get("text", "thread 'main' panicked at src/lib.rs:1:1")).encode() + b"\n")
    return {"written": True}
