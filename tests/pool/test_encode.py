"""The worker's bounded encoder: the same JSON as json.dumps, refused as soon as it passes the limit."""

from __future__ import annotations

import json
import pickle
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.pool.encode import BATCH_BYTES, ResultTooLarge, encode_bounded
from jobs.pool.messages import Outcome, TaskDone, worker_message

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(KEYS, inner),
    max_leaves=40,
)

DOCUMENTS: list[Any] = [
    {},
    [],
    {"a": 1, "b": [1, 2.5, None, True, False], "c": {"d": 'é\n"', "e": []}},
    {7: "int key", 2.5: "float key", True: "bool key", None: "none key"},
    [[1, [2, [3, {"x": "y" * 5000}]]], "z" * 5000, ("tuple", 1)],
    {"rows": [{"n": i, "s": f"row {i}", "l": [i, i + 1]} for i in range(3000)]},
    list(range(2000)),
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_it_encodes_exactly_as_json_dumps(document: Any) -> None:
    expected = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    assert encode_bounded(document, 0) == expected
    assert encode_bounded(document, len(expected)) == expected


def test_a_result_one_byte_over_the_limit_is_refused() -> None:
    size = len(encode_bounded(DOCUMENTS[5], 0))
    with pytest.raises(ResultTooLarge):
        encode_bounded(DOCUMENTS[5], size - 1)


def test_one_picture_repeated_60_times_fails_holding_no_more_than_the_limit() -> None:
    picture = "A" * (5 * 1024 * 1024)
    result = {"images": [{"anchor": f"B{i}", "data": picture} for i in range(60)]}
    limit = 16 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ResultTooLarge):
            encode_bounded(result, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * limit, f"peak {peak} bytes for a {limit} byte limit (the whole text is 300 MiB)"


def test_values_json_cannot_hold_are_refused_as_json_dumps_refuses_them() -> None:
    with pytest.raises(ValueError):
        encode_bounded({"x": float("nan")}, 0)
    with pytest.raises(TypeError):
        encode_bounded({"x": object()}, 0)


def _expected(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_encodes_exactly_as_json_dumps(value: Any) -> None:
    expected = _expected(value)
    assert encode_bounded(value, 0) == expected
    assert encode_bounded(value, len(expected)) == expected
    if len(expected) > 1:  # (a limit of 0 is no limit)
        with pytest.raises(ResultTooLarge):
            encode_bounded(value, len(expected) - 1)


def test_values_past_one_batch_are_cut_and_joined_exactly() -> None:
    # Long strings with escapes and astral characters, and records several batches long: the paths
    # that walk in Python and cut strings into slices.
    text = '\x01"é😀' * (BATCH_BYTES // 3)
    records = [{"n": i, "s": f"row {i}" * 50, "l": [i, 2.5, None]} for i in range(20_000)]
    for value in ({"text": text, "records": records, 7: [text, records[:10]]}, [text, text], text):
        expected = _expected(value)
        assert encode_bounded(value, 0) == expected
        assert encode_bounded(value, len(expected)) == expected
        with pytest.raises(ResultTooLarge):
            encode_bounded(value, len(expected) - 1)


def test_the_result_is_held_once_while_it_is_built() -> None:
    records = [{f"col{c}": f"{r}-{c}-" + "x" * 2600 for c in range(4)} for r in range(2000)]  # 21 MB of JSON
    size = len(_expected(records))
    tracemalloc.start()
    try:
        encoded = encode_bounded(records, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(encoded) == size
    # The buffer's own growth margin and one batch: pieces, a joined text and its bytes were 3x.
    assert peak < 1.25 * size + 2 * BATCH_BYTES, f"peak {peak} bytes for {size} bytes of JSON"


def test_the_result_reaches_the_server_as_the_same_bytes() -> None:
    encoded = encode_bounded({"rows": [[1, "a"], [2, "b"]]}, 0)
    wire = TaskDone("job_1", Outcome("ok", result=encoded)).to_wire()
    message = worker_message(pickle.loads(pickle.dumps(wire, pickle.HIGHEST_PROTOCOL)))
    assert isinstance(message, TaskDone)
    assert type(message.outcome.result) is bytes
    assert message.outcome.result == b'{"rows":[[1,"a"],[2,"b"]]}'
