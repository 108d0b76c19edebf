"""Reading bodies: large ones are parsed in a thread, with the same answers as inline."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.api import requests
from jobs.api.requests import PARSE_INLINE_MAX_BYTES, parse_json
from jobs.errors import InvalidJson
from tests.conftest import body

Client = TestClient[Any, Any]


def test_the_yielding_parse_gives_what_json_loads_gives() -> None:
    document = {"a": [1, 2.5, None, True, {"b": "é", "c": {}}], "d": "x" * 1000}
    raw = json.dumps(document).encode()
    assert parse_json(raw, yielding=True) == parse_json(raw) == document
    with pytest.raises(InvalidJson, match="line 1 column 2"):
        parse_json(b"{x", yielding=True)


async def test_a_large_body_is_parsed_off_the_event_loop_thread(
    service: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    original = requests.parse_json

    def recording(raw: bytes, *, yielding: bool = False) -> Any:
        threads.append(threading.current_thread().name)
        return original(raw, yielding=yielding)

    monkeypatch.setattr(requests, "parse_json", recording)
    big = {"endpoint": "/api/v1/demo/echo", "payload": {"rows": [{"n": i} for i in range(PARSE_INLINE_MAX_BYTES // 8)]}}
    response = await service.post("/api/v1/jobs/start", json=big)
    assert response.status == 202, await response.text()
    small = await service.post("/api/v1/jobs/start", json={"endpoint": "/api/v1/demo/echo", "payload": {}})
    assert small.status == 202
    main = threading.main_thread().name
    assert threads[0] != main and threads[1] == main


async def test_a_large_malformed_body_gets_the_same_clear_answer(service: Client) -> None:
    raw = b'{"endpoint": "/api/v1/demo/echo", "payload": "' + b"x" * PARSE_INLINE_MAX_BYTES + b'"'
    response = await service.post("/api/v1/jobs/start", data=raw, headers={"Content-Type": "application/json"})
    data = await body(response)
    assert response.status == 400 and data["error"] == "invalid_json"
    assert data["message"].startswith("the body is not valid JSON")
