"""A handler's result as JSON, built batch by batch into one buffer and refused once it passes the limit.

json.dumps builds the whole text before its length is known: a result that repeats one 5 MiB picture
60 times took a worker to 1.5 GiB before the limit could be checked. Here the value is cut into
batches whose JSON is known, before encoding, to be at most BATCH_BYTES (a cheap upper bound from
sys.getsizeof, computed at C speed with map), each batch is encoded by one C json.dumps call and
appended to a bytearray, and the size is checked after every append. Only containers too big for
one batch are walked in Python. So the memory held is the buffer (at most the limit) plus one
batch, and the buffer is the result: no list of pieces, no joined text, no final copy.
"""

from __future__ import annotations

import json
from itertools import compress
from operator import not_
from sys import getsizeof
from typing import Any

# The most JSON one C encoder call may produce (by the bound below): the memory a batch may add
# past the limit, and large enough that the per-call cost is nothing beside the encoding.
BATCH_BYTES = 1 << 20
# ensure_ascii writes at most 6 bytes per byte of a str's storage ("\u0001" for a 1-byte char, a
# surrogate pair's 12 for a 4-byte one); ints, floats, True, False and None write far less than 6x
# their object size, and the 16+ bytes of any object's header cover its comma, colon and quotes.
ESCAPE = 6
_FLAT = frozenset({str, int, float, bool, type(None)})
_UNBOUNDED = 1 << 62  # a value that must be walked: no batch takes it
# Nested levels whose size is bounded in one go (a record holding a list of scalars is two).
BOUND_DEPTH = 2
MAX_DEPTH = 500


class ResultTooLarge(Exception):
    """The result's JSON passed the limit while it was being built."""


class _Buffer:
    """The JSON built so far, counted against the limit (0: no limit) after every append."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def punctuation(self, text: bytes) -> None:
        self.data += text
        self._check()

    def json(self, value: Any, strip: bool = False) -> None:
        """Append the value's JSON (without its outer brackets when `strip`)."""
        encoded = _dumps(value).encode("ascii")  # ensure_ascii: one byte per character
        self.data += memoryview(encoded)[1:-1] if strip else encoded
        self._check()

    def room(self) -> int:
        return self.limit - len(self.data) if self.limit else _UNBOUNDED

    def _check(self) -> None:
        if self.limit and len(self.data) > self.limit:
            raise ResultTooLarge(len(self.data))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def encode_bounded(value: Any, limit: int) -> bytearray:
    """`value` as compact JSON, byte for byte json.dumps's; ResultTooLarge past `limit` bytes (0: none).

    The answer is the buffer it was built in (a bytearray, so that it is never copied to bytes).
    Raises TypeError or ValueError as json.dumps does for values JSON cannot hold.
    """
    out = _Buffer(limit)
    _emit(value, out, 0)
    return out.data


def _bound(value: Any, depth: int = BOUND_DEPTH) -> int:
    """An upper bound of the value's JSON size, or _UNBOUNDED when it is not cheap to know."""
    kind = type(value)
    if kind in _FLAT:
        return ESCAPE * getsizeof(value)
    if depth == 0:
        return _UNBOUNDED
    if kind is dict:
        items: Any = value.values()
        # Keys JSON cannot take fail in the C encoder exactly as they would in json.dumps.
        total = ESCAPE * sum(map(getsizeof, value)) + 2
    elif kind is list or kind is tuple:
        items, total = value, 2
    else:
        return _UNBOUNDED
    total += ESCAPE * sum(map(getsizeof, items))
    if not _FLAT.issuperset(map(type, items)):
        nested = compress(items, map(not_, map(_FLAT.__contains__, map(type, items))))
        total += sum(_bound(item, depth - 1) for item in nested)
    return total


def _emit(value: Any, out: _Buffer, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("the result is nested too deeply")
    if _bound(value) <= BATCH_BYTES:
        out.json(value)  # a cell, a record, a short list: the common case, one C call
    elif isinstance(value, dict):
        _emit_object(value, out, depth)
    elif isinstance(value, list | tuple):
        _emit_array(value, out, depth)
    elif isinstance(value, str):
        _emit_string(value, out)
    else:
        out.json(value)


def _emit_string(text: str, out: _Buffer) -> None:
    if len(text) + 2 > out.room():
        raise ResultTooLarge(len(out.data) + len(text) + 2)  # too big before it is even encoded
    # ensure_ascii escapes each code point on its own, so the slices' JSON joins into the whole's.
    step = BATCH_BYTES // ESCAPE
    out.punctuation(b'"')
    for start in range(0, len(text), step):
        out.json(text[start : start + step], strip=True)
    out.punctuation(b'"')


def _emit_array(items: list[Any] | tuple[Any, ...], out: _Buffer, depth: int) -> None:
    out.punctuation(b"[")
    batch: list[Any] = []
    size, first = 0, True
    for item in items:
        bound = _bound(item)
        if bound <= BATCH_BYTES:
            if size + bound > BATCH_BYTES:
                first = _flush(batch, out, first)
                size = 0
            batch.append(item)
            size += bound
            continue
        first = _flush(batch, out, first)
        size = 0
        if not first:
            out.punctuation(b",")
        _emit(item, out, depth + 1)
        first = False
    _flush(batch, out, first)
    out.punctuation(b"]")


def _flush(batch: list[Any] | dict[Any, Any], out: _Buffer, first: bool) -> bool:
    if not batch:
        return first
    if not first:
        out.punctuation(b",")
    out.json(batch, strip=True)
    batch.clear()
    return False


def _emit_object(mapping: dict[Any, Any], out: _Buffer, depth: int) -> None:
    out.punctuation(b"{")
    batch: dict[Any, Any] = {}
    size, first = 0, True
    for key, item in mapping.items():
        bound = ESCAPE * getsizeof(key) + _bound(item)
        if bound <= BATCH_BYTES:
            if size + bound > BATCH_BYTES:
                first = _flush(batch, out, first)
                size = 0
            batch[key] = item
            size += bound
            continue
        first = _flush(batch, out, first)
        size = 0
        # json.dumps's own key coercion (ints, floats, bools, None) for keys that are not strings.
        name = _dumps(key) if isinstance(key, str) else _dumps({key: None})[1:-6]
        out.punctuation((("" if first else ",") + name + ":").encode("ascii"))
        _emit(item, out, depth + 1)
        first = False
    _flush(batch, out, first)
    out.punctuation(b"}")
