"""Compact JSON text from one C encoder built once, instead of one built per call.

`json.dumps` with keyword arguments constructs a JSONEncoder, and that a new C encoder, on every call:
2.4 us of 4 for a status answer, and the API writes a dozen such texts per job (answers, log lines).
The encoder here is the same C code with the same arguments, made once. It is built without
json's circular-reference markers, which only matter for values that contain themselves: the values
given to it are answers and log fields the service builds, never such values (one would end in a
RecursionError instead of json's ValueError). A handler's result, which could, keeps json.dumps
(jobs/pool/encode.py).
"""

from __future__ import annotations

from _json import make_encoder  # CPython's C encoder, the one json.dumps builds per call
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

Encode = Callable[[Any], str]


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def compact_json(*, allow_nan: bool, default: Callable[[Any], Any] | None = None) -> Encode:
    """A function giving, byte for byte, `json.dumps(value, separators=(",", ":"), ...)` of its value."""
    encoder = make_encoder(None, default or _refuse, encode_basestring_ascii, None, ":", ",", False, False, allow_nan)

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode
