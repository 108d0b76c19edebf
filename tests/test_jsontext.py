"""The reused C encoder writes exactly what json.dumps writes, and refuses what it refuses."""

from __future__ import annotations

import json
import math
from pathlib import PurePosixPath
from typing import Any

import pytest

from jobs.jsontext import compact_json

VALUES: list[Any] = [
    None,
    True,
    0,
    -(2**70),
    1.5,
    -0.0,
    1e300,
    5e-324,
    "",
    "plain",
    'quote " backslash \\ newline \n tab \t nul \x00',
    "accents é, CJK 漢字, astral 😀, lone surrogate \ud800",
    [],
    {},
    [1, [2, [3, {"deep": [None]}]]],
    {"b": 1, "a": 2, "nested": {"list": [1.25, "x", False]}},
    {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
    ("a", "tuple"),
    {"success": True, "jobId": "job_1796138209567_8010c906a2f073ed44faea826778a67e", "progress": 40},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_matches_json_dumps(value: Any) -> None:
    encode = compact_json(allow_nan=False)
    assert encode(value) == json.dumps(value, separators=(",", ":"), allow_nan=False)


def test_each_call_stands_alone() -> None:
    encode = compact_json(allow_nan=False)
    with pytest.raises(ValueError, match="Out of range float"):
        encode({"a": [1, math.nan]})
    # A failed call leaves nothing behind that the next one would trip over.
    assert encode({"a": [1, 2]}) == '{"a":[1,2]}'
    assert [encode(n) for n in range(3)] == ["0", "1", "2"]


def test_nan_only_when_allowed() -> None:
    assert compact_json(allow_nan=True)([math.nan, math.inf, -math.inf]) == "[NaN,Infinity,-Infinity]"
    with pytest.raises(ValueError):
        compact_json(allow_nan=False)(math.inf)


def test_default_converts_and_its_absence_refuses() -> None:
    path = PurePosixPath("/tmp/x")
    assert compact_json(allow_nan=True, default=str)({"path": path}) == '{"path":"/tmp/x"}'
    with pytest.raises(TypeError, match="PurePosixPath is not JSON serializable"):
        compact_json(allow_nan=False)({"path": path})
    with pytest.raises(TypeError):
        compact_json(allow_nan=False)({("tuple", "key"): 1})
