"""The worker's bounded encoder: the same JSON as json.dumps, refused as soon as it passes the limit."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest

from jobs.pool.encode import ResultTooLarge, encode_bounded

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
