"""Hostile input over real HTTP against `python server.py`: every refusal is a prompt 4xx, never a 5xx or a hang.

tests/test_errors.py and tests/test_auth.py already cover the common cases in process; this file covers
the rest on the wire, with raw sockets where a client library would refuse to send the request.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from jobs.auth import hash_key
from tests.process import ServerProcess, run_server
from tests.waiting import wait_until_async

HOST = "127.0.0.1"
ALICE_KEY = "alice-key-0123456789abcdef"
BOB_KEY = "bob-key-0123456789abcdef-bob"
ALLOWED_ORIGIN = "https://app.example.netlify.app"
MAX_BODY = 1024 * 1024
VALID_ID = "job_1690123456789_0123456789abcdef0123456789abcdef"
# Marks planted in payloads and keys: none may ever appear in the service's logs.
PAYLOAD_SECRET = "payload-secret-7f3a9c"

CONFIG = f"""
[server]
max_body_bytes = {MAX_BODY}
shutdown_grace_seconds = 1

[pool]
workers = 1

[jobs]
per_client_limit = 50
max_result_bytes = 1048576        # small results: each job reserves this of its client's share at admission

[cors]
allowed_origins = ["{ALLOWED_ORIGIN}"]

[auth]
keys = {{ alice = "{ALICE_KEY}", bob = "{hash_key(BOB_KEY)}" }}

[endpoints]
"/api/v1/demo/echo" = "handlers.demo:echo"
"/api/v1/demo/fail" = "tests.fault_handlers:fail"
"""

Header = tuple[str | bytes, str | bytes]


@dataclass
class Answer:
    """A raw HTTP answer: status, headers, body (de-chunked), and how long it took."""

    status: int
    headers: CIMultiDict[str]
    body: bytes
    seconds: float

    def json(self) -> dict[str, Any]:
        assert self.headers.get("Content-Type", "").startswith("application/json"), (self.status, self.body[:300])
        data: dict[str, Any] = json.loads(self.body)
        return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with own_server(tmp_path_factory.mktemp("hostile")) as running:
        yield running


@contextmanager
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own, for tests that read its whole log or leave it in a bad state."""
    with run_server(tmp_path, config=CONFIG) as running:
        yield running


def logs_with(server: ServerProcess, *needles: str) -> str | None:
    """The server's log once it holds every needle, else None."""
    logs = server.logs()
    return logs if all(needle in logs for needle in needles) else None


def port_of(server: ServerProcess) -> int:
    return int(server.url.rsplit(":", 1)[1])


def build(
    method: str,
    target: str | bytes,
    headers: Sequence[Header] = (),
    body: bytes = b"",
    *,
    key: str | None = ALICE_KEY,
    content_length: bool = True,
) -> bytes:
    """One HTTP/1.1 request as bytes, exactly as given: nothing is escaped, folded or checked."""
    lines = [f"{method} ".encode() + _bytes(target) + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}".encode())
    lines.extend(_bytes(name) + b": " + _bytes(value) for name, value in headers)
    if body and content_length:
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


async def send(server: ServerProcess, request: bytes, timeout: float = 10.0) -> Answer:
    """Send raw bytes on a fresh connection and read one answer (not waiting for the server to hang up)."""
    began = time.monotonic()
    reader, writer = await asyncio.open_connection(HOST, port_of(server))
    try:
        try:
            writer.write(request)
            await writer.drain()
        except ConnectionError:
            pass  # the server answered and closed before taking everything: read what it said
        status, headers, body = await asyncio.wait_for(_read_answer(reader), timeout)
    finally:
        writer.close()
    return Answer(status, headers, body, time.monotonic() - began)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, CIMultiDict[str], bytes]:
    # After an answer to a request whose body it did not read, aiohttp keeps reading ("lingering") for a
    # while before it closes: so the answer is framed by its own headers, not by the end of the stream.
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1."), head[:200]
    headers: CIMultiDict[str] = CIMultiDict()
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = bytearray()
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await reader.readexactly(size + 2)
            del body[-2:]
        return int(status_line.split()[1]), headers, bytes(body)
    if "Content-Length" in headers:
        return int(status_line.split()[1]), headers, await reader.readexactly(int(headers["Content-Length"]))
    return int(status_line.split()[1]), headers, await reader.read()


async def assert_refused(answer: Answer, *statuses: int, code: str | None = None) -> None:
    """A prompt refusal with one of `statuses`; a JSON error with `code` when one is given."""
    assert answer.status in statuses, (answer.status, answer.body[:300])
    assert answer.seconds < 5, f"the refusal took {answer.seconds:.1f} s"
    if code is not None:
        data = answer.json()
        assert data["success"] is False and data["error"] == code, data
    assert b"Traceback" not in answer.body


async def assert_still_healthy(server: ServerProcess) -> None:
    answer = await send(server, build("GET", "/healthz", key=None))
    assert answer.status == 200


def json_post(target: str, body: bytes, content_type: str = "application/json", **kw: Any) -> bytes:
    return build("POST", target, [("Content-Type", content_type)], body, **kw)


# --- Oversized requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        build("GET", "/api/v1/jobs", [("X-Padding", "a" * 9000)]),
        build("GET", "/api/v1/jobs?status=" + "a" * 9000),
        build("GET", "/api/v1/jobs", [(f"X-H{i}", "v") for i in range(300)]),
        build("GET", "/api/v1/jobs", [(f"X-H{i}", "v" * 8000) for i in range(200)]),
        build("GET", "/api/v1/jobs", [("X-" + "n" * 9000, "v")]),
    ],
    ids=["header-value-9k", "request-line-9k", "300-headers", "200-headers-of-8k", "header-name-9k"],
)
async def test_oversized_request_heads_get_a_prompt_4xx(server: ServerProcess, request_bytes: bytes) -> None:
    answer = await send(server, request_bytes)
    await assert_refused(answer, 400, 413, 414, 431)
    await assert_still_healthy(server)


async def test_a_declared_huge_body_is_refused_before_it_is_sent(server: ServerProcess) -> None:
    head = build("POST", "/api/v1/jobs/start", [("Content-Type", "application/json"), ("Content-Length", "10" * 6)])
    answer = await send(server, head)  # the headers only: a server waiting for the body would time out
    await assert_refused(answer, 413, code="payload_too_large")


@pytest.mark.parametrize("target", ["/api/v1/jobs/start", "/api/v1/demo/echo"])
async def test_a_chunked_body_over_the_limit_is_refused(server: ServerProcess, target: str) -> None:
    chunk = b"a" * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * (MAX_BODY // len(chunk) + 2) + b"0\r\n\r\n"
    request = build(
        "POST",
        target,
        [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
        body=body,
        content_length=False,
    )
    await assert_refused(await send(server, request), 413, code="payload_too_large")


@pytest.mark.parametrize(
    "framing",
    [
        [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        [("Content-Length", "5"), ("Content-Length", "6")],
        [("Transfer-Encoding", "chunked, identity")],
        [("Content-Length", "-1")],
        [("Content-Length", "0x10")],
    ],
    ids=["cl-and-te", "two-cls", "te-list", "negative-cl", "hex-cl"],
)
async def test_ambiguous_body_framing_is_refused(server: ServerProcess, framing: list[Header]) -> None:
    # Ambiguity between Content-Length and Transfer-Encoding is how requests are smuggled past proxies.
    request = build("POST", "/api/v1/demo/echo", [("Content-Type", "application/json"), *framing], b"{}\r\n\r\n")
    await assert_refused(await send(server, request), 400)
    await assert_still_healthy(server)


async def test_a_malformed_chunked_body_is_refused(server: ServerProcess) -> None:
    request = build(
        "POST",
        "/api/v1/demo/echo",
        [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
        b"zz\r\n{}\r\n0\r\n\r\n",
        content_length=False,
    )
    await assert_refused(await send(server, request), 400)


# --- Bodies that are not the JSON they claim to be ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"a":[' * 3000 + b"]}" * 3000,
    ],
    ids=["objects-100k-deep", "mixed-3k-deep"],
)
async def test_deep_nesting_on_a_direct_call_is_a_400(server: ServerProcess, body: bytes) -> None:
    answer = await send(server, json_post("/api/v1/demo/echo", body))
    await assert_refused(answer, 400, code="invalid_json")


async def test_moderate_nesting_round_trips(server: ServerProcess) -> None:
    depth = 60  # the payload limit is 64 levels, the object holding the list included
    answer = await send(server, json_post("/api/v1/demo/echo", b'{"deep":' + b"[" * depth + b"]" * depth + b"}"))
    assert answer.status == 200, answer.body[:300]
    assert answer.body.count(b"[") == depth


async def test_a_payload_too_deep_to_hand_to_a_worker_does_not_wedge_the_queue(tmp_path: Path) -> None:
    with own_server(tmp_path) as own:
        deep = b'{"endpoint": "/api/v1/demo/echo", "payload": {"deep": ' + b"[" * 600 + b"]" * 600 + b"}}"
        first = await send(own, json_post("/api/v1/jobs/start", deep))
        assert first.status in (202, 400), first.body[:300]
        # Refused up front or failed alone, either is fine; what must not happen is that the next job waits.
        answer = await send(own, json_post("/api/v1/demo/echo", b'{"after": 1}'), timeout=5)
        assert answer.status == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"endpoint": "/api/v1/demo/echo", "payload": {"x": "caf\xe9"}}',  # latin-1
        '{"endpoint": "/api/v1/demo/echo"}'.encode("utf-16"),  # with a BOM
        b'{"endpoint": "/api/v1/demo/echo", "payload": {"x": "\xc0\xaf"}}',  # an overlong encoding of "/"
        b'{"endpoint": "/api/v1/demo/echo", "payload": {"x": "\xed\xa0\x80"}}',  # an encoded surrogate
        b"\xef\xbb\xbf" + b'{"endpoint": "/api/v1/demo/echo"}',  # a UTF-8 BOM: not JSON text per RFC 8259
    ],
    ids=["latin-1", "utf-16", "overlong", "surrogate", "utf-8-bom"],
)
async def test_bodies_that_are_not_utf8_json_are_a_400(server: ServerProcess, body: bytes) -> None:
    answer = await send(server, json_post("/api/v1/jobs/start", body, "application/json; charset=latin-1"))
    await assert_refused(answer, 400, code="invalid_json")


async def test_escaped_lone_surrogates_and_nul_round_trip_as_json(server: ServerProcess) -> None:
    body = rb'{"s": "\ud800", "nul": "a\u0000b", "rtl": "\u202egnp.exe"}'
    answer = await send(server, json_post("/api/v1/demo/echo", body))
    assert answer.status == 200
    assert answer.json()["data"] == {"s": "\ud800", "nul": "a\x00b", "rtl": "\u202egnp.exe"}


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
async def test_non_finite_numbers_fail_the_job_not_the_service(server: ServerProcess, number: bytes) -> None:
    # json.loads accepts them; the worker refuses to encode them back (allow_nan=False): the job fails.
    answer = await send(server, json_post("/api/v1/demo/echo", b'{"x": ' + number + b"}"))
    await assert_refused(answer, 422, code="job_failed")
    assert "not valid JSON" in answer.json()["message"]


@pytest.mark.parametrize("target", ["/api/v1/jobs/start", "/api/v1/demo/echo"])
async def test_an_integer_too_long_to_convert_is_a_400(server: ServerProcess, target: str) -> None:
    body = b'{"endpoint": "/api/v1/demo/echo", "payload": {"n": ' + b"1" * 5000 + b"}}"
    await assert_refused(await send(server, json_post(target, body)), 400, code="invalid_json")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/json",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/octet-stream",
        "image/svg+xml",
    ],
)
@pytest.mark.parametrize("target", ["/api/v1/jobs/start", "/api/v1/demo/echo"])
async def test_non_json_content_types_are_a_415(server: ServerProcess, target: str, content_type: str) -> None:
    body = b'{"endpoint": "/api/v1/demo/echo"}'
    await assert_refused(await send(server, json_post(target, body, content_type)), 415, code="unsupported_media_type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.api+json", None])
async def test_json_content_types_and_none_are_accepted(server: ServerProcess, content_type: str | None) -> None:
    body = b'{"endpoint": "/api/v1/demo/echo", "payload": {}}'
    headers = [("Content-Type", content_type)] if content_type else []
    answer = await send(server, build("POST", "/api/v1/jobs/start", headers, body))
    assert answer.status == 202, answer.body[:300]


# --- Job ids ------------------------------------------------------------------------------------------

HOSTILE_IDS = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5c..%5cwindows%5cwin.ini",
    "..;/..;/etc/passwd",
    f"{VALID_ID}%00",
    f"{VALID_ID}%0a",
    f"{VALID_ID}%20",
    "job_1690123456789_0123456789abcdef0123456789abcde%C6%92",
    "%27%20OR%20%271%27%3D%271",
    "1;DROP%20TABLE%20jobs--",
    "job_1690123456789_$(reboot)",
    "%60id%60",
    "%7Ccat%20%2Fetc%2Fpasswd",
    "job_%EF%BC%91%EF%BC%96%EF%BC%99%EF%BC%90123456789_0123456789abcdef0123456789abcdef",  # fullwidth digits
    "%F0%9F%92%A3",
    "%E2%80%AEfdp.exe",
    "job_" + "1" * 8000,
]


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", "/status"), ("GET", "/result"), ("GET", "/events"), ("DELETE", "")]
)
@pytest.mark.parametrize("job_id", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
async def test_hostile_job_ids_are_refused_on_every_job_route(
    server: ServerProcess, method: str, suffix: str, job_id: str
) -> None:
    answer = await send(server, build(method, f"/api/v1/jobs/{job_id}{suffix}"))
    await assert_refused(answer, 400, 404)
    data = answer.json()
    assert data["error"] in ("invalid_job_id", "not_found", "job_not_found"), data


async def test_an_id_longer_than_the_request_line_limit_gets_a_prompt_4xx(server: ServerProcess) -> None:
    answer = await send(server, build("GET", "/api/v1/jobs/job_" + "1" * 20_000 + "/status"))
    await assert_refused(answer, 400, 414)


# --- Values echoed back -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_value",
    [
        b"abc\r\nSet-Cookie: injected=1",
        b"abc\nSet-Cookie: injected=1",
        b"abc\rSet-Cookie: injected=1",
        b"abc\x00def",
        b"abc%0d%0aSet-Cookie:%20injected=1",
    ],
    ids=["crlf", "lf", "cr", "nul", "encoded-crlf"],
)
async def test_request_ids_cannot_inject_headers(server: ServerProcess, raw_value: bytes) -> None:
    answer = await send(server, build("GET", "/api/v1/jobs", [("X-Request-ID", raw_value)]))
    assert answer.status in (200, 400), answer.body[:300]
    assert "Set-Cookie" not in answer.headers
    assert all("injected" not in value for value in answer.headers.values())
    if answer.status == 200:
        assert answer.headers["X-Request-ID"] in ("abc",) or re.fullmatch(
            r"[0-9a-f]{32}", answer.headers["X-Request-ID"]
        )


@pytest.mark.parametrize(
    ("value", "echoed"),
    [
        ("r" * 128, True),
        ("r" * 129, False),
        ("trace:1.2-3_4", True),
        ("ünïcödé", False),
        ("<script>alert(1)</script>", False),
        ("a,b", False),
    ],
)
async def test_request_ids_are_echoed_only_when_safe(server: ServerProcess, value: str, echoed: bool) -> None:
    answer = await send(server, build("GET", "/healthz", [("X-Request-ID", value)], key=None))
    assert answer.status == 200
    got = answer.headers["X-Request-ID"]
    assert (got == value) is echoed
    if not echoed:
        assert re.fullmatch(r"[0-9a-f]{32}", got)


async def test_latin1_bytes_in_a_request_id_are_replaced(server: ServerProcess) -> None:
    answer = await send(server, build("GET", "/healthz", [("X-Request-ID", b"caf\xe9")], key=None))
    assert answer.status == 200
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])


@pytest.mark.parametrize("key", [b"k\x01ey", "ü-key".encode(), b"k" * 256, b""])
async def test_bad_idempotency_keys_are_a_400(server: ServerProcess, key: bytes) -> None:
    request = json_post("/api/v1/jobs/start", b'{"endpoint": "/api/v1/demo/echo"}')
    request = request.replace(b"Content-Type:", b"Idempotency-Key: " + key + b"\r\nContent-Type:", 1)
    answer = await send(server, request)
    await assert_refused(answer, 400)


async def test_trace_is_not_allowed_and_echoes_nothing(server: ServerProcess) -> None:
    answer = await send(server, build("TRACE", "/api/v1/jobs", [("X-Secret", "do-not-echo")]))
    await assert_refused(answer, 405, code="method_not_allowed")
    assert b"do-not-echo" not in answer.body and ALICE_KEY.encode() not in answer.body


# --- CORS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "https://evil.example",
        f"{ALLOWED_ORIGIN}.evil.example",
        ALLOWED_ORIGIN.replace("https://", "http://"),
        f"{ALLOWED_ORIGIN}:8443",
        ALLOWED_ORIGIN.upper(),
        "https://evil.example/" + ALLOWED_ORIGIN,
    ],
)
async def test_disallowed_origins_get_no_cors_grant(server: ServerProcess, origin: str) -> None:
    preflight = [
        ("Origin", origin),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "authorization, content-type"),
    ]
    refused = await send(server, build("OPTIONS", "/api/v1/jobs/start", preflight, key=None))
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    for key in (ALICE_KEY, None):
        simple = await send(server, build("GET", "/api/v1/jobs", [("Origin", origin)], key=key))
        assert simple.status in (200, 401)
        assert "Access-Control-Allow-Origin" not in simple.headers
        assert "Access-Control-Allow-Credentials" not in simple.headers


async def test_the_allowed_origin_may_send_the_key_but_not_other_headers(server: ServerProcess) -> None:
    base = [("Origin", ALLOWED_ORIGIN), ("Access-Control-Request-Method", "POST")]
    ok = await send(
        server,
        build("OPTIONS", "/api/v1/jobs/start", [*base, ("Access-Control-Request-Headers", "authorization")], key=None),
    )
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Access-Control-Allow-Credentials" not in ok.headers  # keys travel in a header, never cookies
    evil = await send(
        server, build("OPTIONS", "/api/v1/jobs/start", [*base, ("Access-Control-Request-Headers", "x-evil")], key=None)
    )
    assert evil.status == 403


# --- Keys ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer\t{ALICE_KEY}".encode(),
        f"Bearer {ALICE_KEY}\x00".encode(),
        f"Bearer {ALICE_KEY[:-1]}".encode(),
        f"Bearer {ALICE_KEY}x".encode(),
        f"Bearer {ALICE_KEY.upper()}".encode(),
        b"Bearer " + ALICE_KEY.encode() + b"\xe9",
        "Bearer ålice-kéy-0123456789abcdef".encode(),
        b"Bearer " + b"k" * 8000,
        b"Bearer",
        b"Bearer  ",
        f"Bearer {hash_key(BOB_KEY)}".encode(),
        f"Bearer {hash_key(BOB_KEY)[7:]}".encode(),
        f"Token {ALICE_KEY}".encode(),
        f"Bearer {ALICE_KEY}, Bearer {ALICE_KEY}".encode(),
    ],
    ids=[
        "tab",
        "nul",
        "prefix",
        "suffix",
        "uppercase",
        "latin-1-byte",
        "non-ascii",
        "8k",
        "scheme-only",
        "scheme-and-spaces",
        "the-configured-digest",
        "the-digests-hex",
        "other-scheme",
        "listed-twice",
    ],
)
async def test_wrong_keys_on_the_wire_are_a_401_or_a_400(server: ServerProcess, authorization: bytes) -> None:
    answer = await send(server, build("GET", "/api/v1/jobs", [("Authorization", authorization)], key=None))
    assert answer.status in (400, 401), answer.body[:300]
    if answer.status == 401:
        assert answer.json()["error"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_surrounding_whitespace_is_not_part_of_a_header_value(server: ServerProcess) -> None:
    # RFC 9110 5.5: leading and trailing whitespace around a field value is not part of it.
    answer = await send(server, build("GET", "/api/v1/jobs", [("Authorization", f"Bearer {ALICE_KEY}  \t")], key=None))
    assert answer.status == 200


async def test_the_key_behind_a_digest_works(server: ServerProcess) -> None:
    answer = await send(server, build("GET", "/api/v1/jobs", key=BOB_KEY))
    assert answer.status == 200


async def test_keys_and_payloads_never_reach_the_logs(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:
        secret = json.dumps({"endpoint": "/api/v1/demo/echo", "payload": {"token": PAYLOAD_SECRET}}).encode()
        assert (await send(server, json_post("/api/v1/jobs/start", secret))).status == 202
        failing = json.dumps({"message": "boom", "token": PAYLOAD_SECRET}).encode()
        assert (await send(server, json_post("/api/v1/demo/fail", failing, key=BOB_KEY))).status == 422
        assert (await send(server, build("GET", "/api/v1/jobs", key="wrong-key-" + PAYLOAD_SECRET))).status == 401
        assert (await send(server, build("GET", "/api/v1/jobs", key=ALICE_KEY + "x"))).status == 401
        # The last lines this traffic writes: the started job's end and the direct call's failure.
        logs = await wait_until_async(
            lambda: logs_with(server, '"job.completed"', '"job.failed"'), 20, "the jobs' last lines in the log"
        )
    assert "job.created" in logs and "job.failed" in logs, "the log should hold the lifecycle events"
    for secret_text in (ALICE_KEY, BOB_KEY, PAYLOAD_SECRET):
        assert secret_text not in logs


async def test_a_key_in_a_malformed_header_is_not_logged(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:
        answer = await send(
            server, build("GET", "/api/v1/jobs", [("Authorization", f"Bearer {ALICE_KEY}\x01")], key=None)
        )
        assert answer.status == 400
        logs = await wait_until_async(
            lambda: logs_with(server, "rejected a malformed HTTP request"), 10, "the refusal's line in the log"
        )
    assert ALICE_KEY not in logs


# --- Slow clients -------------------------------------------------------------------------------------


async def test_clients_that_stall_mid_request_do_not_block_others(server: ServerProcess) -> None:
    stalled = []
    for _ in range(50):
        _, writer = await asyncio.open_connection(HOST, port_of(server))
        writer.write(b"POST /api/v1/demo/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nX-Slow: ")
        await writer.drain()
        stalled.append(writer)
    try:
        answer = await send(server, build("GET", "/api/v1/jobs"), timeout=5)
        assert answer.status == 200
        assert answer.seconds < 2
    finally:
        for writer in stalled:
            writer.close()
