"""A handler's result as JSON, built batch by batch into one buffer and refused once it passes the limit.

json.dumps builds the whole text before its length is known: a result that repeats one 5 MiB picture
60 times took a worker to 1.5 GiB before the limit could be checked. Here the value is cut into
batches whose JSON is known, before encoding, to be at most BATCH_BYTES (a cheap upper bound from
the strings' lengths and the ints' magnitudes, computed at C speed with map), each batch is encoded
by one C json.dumps call and appended to a bytearray, and the size is checked after every append.
Only containers too big for one batch are walked in Python, in slices sized from the last slice's
bound. So the memory held is the buffer (at most the limit) plus one batch, and the buffer is the
result: no list of pieces, no joined text, no final copy.
"""

from __future__ import annotations

import json
from itertools import chain, compress, repeat
from operator import is_
from typing import Any

# The most JSON one C encoder call may produce (by the bound below): the memory a batch may add
# past the limit, and large enough that the per-call cost is nothing beside the encoding.
BATCH_BYTES = 1 << 20
# ensure_ascii writes at most 12 bytes per character (a surrogate pair "\ud83d\ude00" for one
# astral code point), plus its quotes.
ESCAPE = 12
# The most any other flat value writes, with its separator: a float's repr is at most 24 characters
# (-2.2250738585072014e-308), true, false and null fewer; a container's brackets and a string's quotes
# fit too.
SCALAR = 26
_FLAT = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = _FLAT | {dict, list, tuple}
_DICT = frozenset({dict})
_ARRAYS = frozenset({list, tuple})
_UNBOUNDED = 1 << 62  # a value that must be walked: no batch takes it
# Nested levels whose size is bounded in one go (a record holding a list of scalars is two).
BOUND_DEPTH = 2
MAX_DEPTH = 500
# The longest slice of an array or object whose bound is taken in one go.
MAX_STEP = 1 << 16


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


def _bound(values: list[Any]) -> int:
    """An upper bound of the JSON of all these values, or _UNBOUNDED when it is not cheap to know.

    Level by level, every step a C loop (map, filter, compress, chain): no Python call per value.
    """
    level, total = values, 0
    for _ in range(BOUND_DEPTH + 1):
        if total + SCALAR * len(level) > BATCH_BYTES:
            return _UNBOUNDED  # every value writes at most SCALAR: no need to look at them
        types = list(map(type, level))
        kinds = set(types)
        total += _flat_bound(level, types, kinds)
        if kinds <= _FLAT:
            return total
        if total > BATCH_BYTES or not kinds <= _CONTAINERS:
            return _UNBOUNDED
        dicts = level if kinds == _DICT else list(compress(level, map(is_, types, repeat(dict))))
        # Keys JSON cannot take fail in the C encoder exactly as they would in json.dumps.
        below = [*chain.from_iterable(dicts), *chain.from_iterable(map(dict.values, dicts))]
        if not kinds.isdisjoint(_ARRAYS):
            below += chain.from_iterable(compress(level, map(_ARRAYS.__contains__, types)))
        level = below
    return _UNBOUNDED


def _flat_bound(level: list[Any], types: list[type], kinds: set[type]) -> int:
    """The most JSON the level's own values write, containers counting their brackets and separators."""
    total = SCALAR * len(level)  # a float's repr, true, null, a container's brackets, a comma or colon
    if str in kinds:
        strings = level if len(kinds) == 1 else compress(level, map(is_, types, repeat(str)))
        total += ESCAPE * sum(map(len, strings))
    if int in kinds:
        ints = level if len(kinds) == 1 else list(compress(level, map(is_, types, repeat(int))))
        # Decimal digits of the largest magnitude (log10(2) < 0.30103), a sign: each int at most that.
        top, bottom = max(ints), min(ints)
        total += len(ints) * ((max(top, -bottom).bit_length() * 30103) // 100000 + 2)
    return total


def _emit(value: Any, out: _Buffer, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("the result is nested too deeply")
    if _bound([value]) <= BATCH_BYTES:
        out.json(value)  # a cell, a record, a short list: the common case, one C call
    elif isinstance(value, dict):
        out.punctuation(b"{")
        _emit_members(list(value.items()), out, depth, pairs=True)
        out.punctuation(b"}")
    elif isinstance(value, list | tuple):
        out.punctuation(b"[")
        _emit_members(value if isinstance(value, list) else list(value), out, depth, pairs=False)
        out.punctuation(b"]")
    elif isinstance(value, str):
        _emit_string(value, out)
    else:
        out.json(value)


def _emit_members(members: list[Any], out: _Buffer, depth: int, pairs: bool) -> None:
    """An array's items or an object's (key, value) pairs, in slices sized so that each is one batch."""
    start, step, first = 0, 64, True
    while start < len(members):
        part = members[start : start + step]
        start += len(part)
        bound = _bound(list(chain.from_iterable(part)) if pairs else part)
        if bound <= BATCH_BYTES:
            first = _separate(out, first)
            out.json(dict(part) if pairs else part, strip=True)
        else:
            first = _emit_split(part, out, depth, pairs, first)
        # The next slice as long as this one's bound says one batch takes (every value bounds at least SCALAR).
        step = max(1, min(MAX_STEP, step * BATCH_BYTES // max(bound, 1)))


def _emit_split(part: list[Any], out: _Buffer, depth: int, pairs: bool, first: bool) -> bool:
    """A slice too big for one batch: halves until a part fits, or one member is walked on its own."""
    if len(part) > 1:
        middle = len(part) // 2
        for half in (part[:middle], part[middle:]):
            if _bound(list(chain.from_iterable(half)) if pairs else half) <= BATCH_BYTES:
                first = _separate(out, first)
                out.json(dict(half) if pairs else half, strip=True)
            else:
                first = _emit_split(half, out, depth, pairs, first)
        return first
    first = _separate(out, first)
    if pairs:
        key, value = part[0]
        # json.dumps's own key coercion (ints, floats, bools, None) for keys that are not strings.
        name = _dumps(key) if isinstance(key, str) else _dumps({key: None})[1:-6]
        out.punctuation(name.encode("ascii") + b":")
        _emit(value, out, depth + 1)
    else:
        _emit(part[0], out, depth + 1)
    return first


def _separate(out: _Buffer, first: bool) -> bool:
    if not first:
        out.punctuation(b",")
    return False


def _emit_string(text: str, out: _Buffer) -> None:
    if len(text) + 2 > out.room():
        raise ResultTooLarge(len(out.data) + len(text) + 2)  # too big before it is even encoded
    # ensure_ascii escapes each code point on its own, so the slices' JSON joins into the whole's.
    step = BATCH_BYTES // ESCAPE
    out.punctuation(b'"')
    for start in range(0, len(text), step):
        out.json(text[start : start + step], strip=True)
    out.punctuation(b'"')
