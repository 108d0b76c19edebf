"""A handler's result as JSON, built piece by piece and refused as soon as it passes the size limit.

json.dumps builds the whole text before its length is known: a result that repeats one 5 MiB picture
60 times took a worker to 1.5 GiB before the limit could be checked. Here containers are walked in
Python and runs of scalars are encoded by the C encoder in batches, so the check runs after every
batch and the memory held is at most the limit plus one batch.
"""

from __future__ import annotations

import json
from typing import Any

# Scalars encoded per call to the C encoder: big enough that the walk costs little per value.
BATCH = 512
_SCALARS = (str, int, float, bool, type(None))
_FLAT_TYPES = frozenset({int, float, bool, type(None)})
# Strings longer than this are checked against the limit before they are encoded.
LONG_STRING = 4096
# Objects with at most this many flat values are encoded whole.
SMALL = 64


class ResultTooLarge(Exception):
    """The result's JSON passed the limit while it was being built."""


class _BoundedWriter:
    """Collects encoded pieces and counts them against the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.limit and self.size > self.limit:
            raise ResultTooLarge(self.size)
        self.parts.append(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def encode_bounded(value: Any, limit: int) -> bytes:
    """`value` as compact JSON bytes; ResultTooLarge once it passes `limit` bytes (0: no limit).

    Raises TypeError or ValueError as json.dumps does for values JSON cannot hold.
    """
    writer = _BoundedWriter(limit)
    _emit(value, writer, 0)
    return "".join(writer.parts).encode()


def _is_flat(values: Any, nested: bool = True) -> bool:
    # Scalars, short strings and small lists of them: the C encoder can take the container whole,
    # its size bounded by SMALL x SMALL x LONG_STRING.
    for v in values:
        kind = type(v)
        if kind in _FLAT_TYPES or (kind is str and len(v) <= LONG_STRING):
            continue
        if nested and kind is list and len(v) <= SMALL and _is_flat(v, nested=False):
            continue
        return False
    return True


def _emit(value: Any, out: _BoundedWriter, depth: int) -> None:
    if depth > 500:
        raise ValueError("the result is nested too deeply")
    if isinstance(value, dict) and len(value) <= SMALL and _is_flat(value.values()):
        out.write(_dumps(value))  # a row of a table, a cell: the common case, kept fast
    elif isinstance(value, dict):
        _emit_object(value, out, depth)
    elif isinstance(value, list | tuple):
        _emit_array(value, out, depth)
    else:
        if isinstance(value, str) and out.limit and out.size + len(value) > out.limit:
            raise ResultTooLarge(out.size + len(value))  # too big before it is even encoded
        out.write(_dumps(value))


def _emit_array(items: list[Any] | tuple[Any, ...], out: _BoundedWriter, depth: int) -> None:
    out.write("[")
    batch: list[Any] = []
    first = True
    for item in items:
        if isinstance(item, _SCALARS) and not (isinstance(item, str) and len(item) > LONG_STRING):
            batch.append(item)
            if len(batch) >= BATCH:
                first = _flush(batch, out, first)
            continue
        first = _flush(batch, out, first)
        if not first:
            out.write(",")
        _emit(item, out, depth + 1)
        first = False
    _flush(batch, out, first)
    out.write("]")


def _flush(batch: list[Any], out: _BoundedWriter, first: bool) -> bool:
    if not batch:
        return first
    if not first:
        out.write(",")
    out.write(_dumps(batch)[1:-1])
    batch.clear()
    return False


def _emit_object(mapping: dict[Any, Any], out: _BoundedWriter, depth: int) -> None:
    out.write("{")
    first = True
    for key, item in mapping.items():
        # json.dumps's own key coercion (ints, floats, bools, None) for keys that are not strings.
        name = _dumps(key) if isinstance(key, str) else _dumps({key: None})[1:-6]
        out.write(("" if first else ",") + name + ":")
        _emit(item, out, depth + 1)
        first = False
    out.write("}")
