"""A faithful fake of Microsoft login + the Graph drive endpoints, over HTTPS on 127.0.0.1.

Runs in a background thread with its own event loop, so synchronous code under test (the handlers,
or a `python server.py` subprocess started with `fake.env()`) can talk to it while the test waits.

    with FakeGraph(trustme.CA(), tmp_path) as fake:
        item = fake.drive.add_file("book.xlsx", data)
        env = fake.env()              # DOCJOBS_SHAREPOINT_* pointing at the fake
        ... download(item.sharing_url) ...
        fake.fail(429, times=1, retry_after="0")   # throttle the next Graph request
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import trustme
from aiohttp import web

from handlers.sharepoint import SharePointSettings

from .fake_drive import DRIVE_ID, FakeDrive, FakeItem, UploadSession
from .fake_login import CLIENT_ID, CLIENT_SECRET, TENANT_ID, FakeLogin
from .fake_server import BackgroundServer

_CHILD = re.compile(r"drives/([^/]+)/items/([^/:]+):/([^/:]+):/(content|createUploadSession)")
_ITEM = re.compile(r"drives/([^/]+)/items/([^/:]+)/(content|createUploadSession)")
_SHARE = re.compile(r"shares/([^/]+)/driveItem(/content)?")


@dataclass
class Failure:
    """An injected failure: answer `status` to the next `times` requests whose path has `path_part`."""

    status: int
    times: int
    retry_after: str | None
    path_part: str


class FakeGraph:
    """The fake service: login, Graph, pre-authenticated download and upload URLs."""

    def __init__(self, ca: trustme.CA, workdir: Path) -> None:
        self.ca = ca
        self.workdir = workdir
        self.drive = FakeDrive()
        self.login = FakeLogin()
        self.base_url = ""
        # Test knobs.
        self.redirect_downloads_to: str | None = None  # Location for content requests, e.g. off-list
        self.chunked_downloads = False  # stream content without Content-Length
        self.graph_delay_seconds = 0.0  # sleep before answering Graph requests (timeouts)
        self.oversized_answers = False  # Graph answers declare 200 MiB, send their JSON, then stall
        # What happened.
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.leaked_authorization: list[str] = []  # paths of pre-authenticated URLs that got a token
        self._failures: list[Failure] = []
        self._finished_sessions: list[UploadSession] = []
        self._lock = threading.Lock()
        app = web.Application(middlewares=[self._record_and_fail])
        self.login.add_routes(app)
        app.router.add_route("*", "/v1.0/{tail:.*}", self._graph)
        app.router.add_get("/download/{item_id}", self._download)
        app.router.add_route("*", "/upload/{session_id}", self._upload_chunk)
        self._server = BackgroundServer(app, ca)

    def __enter__(self) -> FakeGraph:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1 with a certificate from the test CA."""
        self.base_url = f"https://127.0.0.1:{self._server.start()}"
        self.login.base_url = self.base_url

    def stop(self) -> None:
        """Stop the server and its thread."""
        self._server.stop()

    # -- configuration for the code under test ----------------------------------------------------
    @property
    def ca_bundle(self) -> Path:
        """A PEM file with the test CA, for DOCJOBS_SHAREPOINT_CA_BUNDLE."""
        path = self.workdir / "fake-graph-ca.pem"
        if not path.exists():
            self.ca.cert_pem.write_to_path(str(path))
        return path

    def settings(self, **overrides: Any) -> SharePointSettings:
        """Settings pointing at the fake, with a client secret and fast retries."""
        values: dict[str, Any] = {
            "tenant_id": TENANT_ID,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "graph_base_url": self.base_url,
            "authority_host": self.base_url,
            "allowed_hosts": ("*.sharepoint.com", "127.0.0.1", "localhost"),
            "allow_private_addresses": True,
            "ca_bundle": str(self.ca_bundle),
            "retry_attempts": 3,
            "retry_max_seconds": 5.0,
            "connect_timeout_seconds": 5.0,
            "read_timeout_seconds": 10.0,
        }
        values.update(overrides)
        return SharePointSettings(**values)

    def env(self, **overrides: str) -> dict[str, str]:
        """DOCJOBS_SHAREPOINT_* variables pointing at the fake (secret passed as a file).

        Overrides use the variable's suffix: `fake.env(MAX_DOWNLOAD_BYTES="1000")`.
        """
        secret_file = self.workdir / "fake-graph-client-secret"
        secret_file.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
        values = {
            "TENANT_ID": TENANT_ID,
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET_FILE": str(secret_file),
            "GRAPH_BASE_URL": self.base_url,
            "AUTHORITY_HOST": self.base_url,
            "ALLOWED_HOSTS": "*.sharepoint.com,127.0.0.1,localhost",
            "ALLOW_PRIVATE_ADDRESSES": "true",
            "CA_BUNDLE": str(self.ca_bundle),
            "RETRY_ATTEMPTS": "3",
            "RETRY_MAX_SECONDS": "5",
            **overrides,
        }
        return {f"DOCJOBS_SHAREPOINT_{key}": value for key, value in values.items()}

    def fail(self, status: int, *, times: int = 1, retry_after: str | None = None, path_part: str = "/v1.0/") -> None:
        """Answer `status` to the next `times` requests whose path contains `path_part`."""
        with self._lock:
            self._failures.append(Failure(status, times, retry_after, path_part))

    @property
    def token_requests(self) -> int:
        """How many token requests msal made."""
        return self.login.token_requests

    def upload_ranges(self) -> list[tuple[int, int, int]]:
        """Content-Range triples (first, last, total) received by all upload sessions."""
        return [r for s in self._finished_sessions for r in s.ranges]

    # -- middleware and routes -------------------------------------------------------------------
    @web.middleware
    async def _record_and_fail(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        failure = self._take_failure(request.path)
        if failure is None:
            answer: web.StreamResponse = await handler(request)
        else:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            codes = {
                401: "InvalidAuthenticationToken",
                403: "accessDenied",
                404: "itemNotFound",
                429: "activityLimitReached",
            }
            code = codes.get(failure.status, "serviceNotAvailable")
            body = {"error": {"code": code, "message": "Injected failure."}}
            answer = web.json_response(body, status=failure.status, headers=headers)
        if self.oversized_answers and request.path.startswith("/v1.0/") and isinstance(answer, web.Response):
            return await _oversized(request, answer)
        return answer

    def _take_failure(self, path: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.path_part in path and failure.times > 0:
                    failure.times -= 1
                    return failure
        return None

    async def _graph(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.graph_delay_seconds)  # a slow Graph is the behaviour under test
        if not self.login.is_valid(request.headers.get("Authorization", "")):
            return _graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        tail = request.match_info["tail"]
        if (match := _SHARE.fullmatch(tail)) and request.method == "GET":
            return self._shared_item(match.group(1), content=bool(match.group(2)))
        raw_tail = request.rel_url.raw_path.removeprefix("/v1.0/")
        if match := _CHILD.fullmatch(raw_tail):
            drive, parent, name, action = match.groups()
            return await self._write(request, drive, action, parent_id=parent, name=unquote(name))
        if match := _ITEM.fullmatch(raw_tail):
            drive, item, action = match.groups()
            return await self._write(request, drive, action, item_id=item)
        return _graph_error(400, "invalidRequest", f"Unsupported by the fake: {request.method} {tail}")

    def _shared_item(self, share_id: str, *, content: bool) -> web.StreamResponse:
        item = self.drive.shared(share_id)
        if item is None:
            return _graph_error(404, "itemNotFound", "The resource could not be found.")
        if not content:
            return web.json_response(item.to_graph())
        location = self.redirect_downloads_to or f"{self.base_url}/download/{item.id}?tempauth={_TEMPAUTH}"
        raise web.HTTPFound(location)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if "Authorization" in request.headers:
            self.leaked_authorization.append(request.path)
        item = self.drive.items.get(request.match_info["item_id"])
        if item is None or request.query.get("tempauth") != _TEMPAUTH:
            return _graph_error(401, "unauthenticated", "Bad tempauth.")
        if not self.chunked_downloads:
            return web.Response(body=item.data, content_type=item.mime_type)
        response = web.StreamResponse(headers={"Content-Type": item.mime_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(item.data), 64 * 1024):
            await response.write(item.data[start : start + 64 * 1024])
        await response.write_eof()
        return response

    async def _write(
        self, request: web.Request, drive: str, action: str, *, parent_id: str = "", name: str = "", item_id: str = ""
    ) -> web.StreamResponse:
        target = self.drive.items.get(item_id or parent_id)
        if drive != DRIVE_ID or target is None:
            return _graph_error(404, "itemNotFound", "The resource could not be found.")
        if action == "createUploadSession" and request.method == "POST":
            return await self._create_session(request, target, parent_id, name)
        if action != "content" or request.method != "PUT":
            return _graph_error(405, "invalidRequest", "Method not allowed.")
        data = await request.read()
        mime = request.headers.get("Content-Type", "application/octet-stream")
        if item_id:
            target.data, target.mime_type = data, mime
            return web.json_response(target.to_graph())
        conflict = request.query.get("@microsoft.graph.conflictBehavior", "fail")
        return self._put_child(parent_id, name, data, mime, conflict)

    def _put_child(self, parent_id: str, name: str, data: bytes, mime: str, conflict: str) -> web.Response:
        try:
            item, status = self.drive.put_child(parent_id, name, data, mime, conflict)
        except FileExistsError:
            return _graph_error(409, "nameAlreadyExists", "The specified item name already exists.")
        return web.json_response(item.to_graph(), status=status)

    async def _create_session(self, request: web.Request, target: FakeItem, parent_id: str, name: str) -> web.Response:
        item = (await request.json()).get("item", {})
        session = UploadSession(
            parent_id=parent_id or None,
            item_id=None if parent_id else target.id,
            name=name or target.name,
            conflict=item.get("@microsoft.graph.conflictBehavior", "fail"),
        )
        session_id = self.drive.open_session(session)
        upload_url = f"{self.base_url}/upload/{session_id}?tempauth={_TEMPAUTH}"
        return web.json_response(
            {"uploadUrl": upload_url, "expirationDateTime": "2099-01-01T00:00:00Z", "nextExpectedRanges": ["0-"]}
        )

    async def _upload_chunk(self, request: web.Request) -> web.StreamResponse:
        if "Authorization" in request.headers:
            self.leaked_authorization.append(request.path)
        session = self.drive.sessions.get(request.match_info["session_id"])
        if session is None:
            return _graph_error(404, "itemNotFound", "Upload session not found.")
        if request.method == "DELETE":
            del self.drive.sessions[request.match_info["session_id"]]
            return web.Response(status=204)
        problem = session.accept(request.headers.get("Content-Range", ""), await request.read())
        if problem:
            return _graph_error(416, "invalidRange", problem)
        _, last, total = session.ranges[-1]
        if last + 1 < total:
            body = {"expirationDateTime": "2099-01-01T00:00:00Z", "nextExpectedRanges": [f"{last + 1}-"]}
            return web.json_response(body, status=202)
        del self.drive.sessions[request.match_info["session_id"]]
        self._finished_sessions.append(session)
        return self._complete(session)

    def _complete(self, session: UploadSession) -> web.Response:
        data = bytes(session.received)
        if session.item_id is not None:
            item = self.drive.items[session.item_id]
            item.data = data
            return web.json_response(item.to_graph())
        assert session.parent_id is not None
        return self._put_child(session.parent_id, session.name, data, "application/octet-stream", session.conflict)


# What an oversized answer declares, and how long it then sends nothing: a client that waits for the
# rest (instead of refusing the declared size) fails on the cut-off body, not on the limit.
OVERSIZED_BYTES = 200 * 1024 * 1024
OVERSIZED_STALL_SECONDS = 2.0


async def _oversized(request: web.Request, answer: web.Response) -> web.StreamResponse:
    stream = web.StreamResponse(
        status=answer.status, headers={"Content-Type": "application/json", "Content-Length": str(OVERSIZED_BYTES)}
    )
    await stream.prepare(request)
    assert isinstance(answer.body, bytes)
    await stream.write(answer.body)
    await asyncio.sleep(OVERSIZED_STALL_SECONDS)
    return stream


def _graph_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


_TEMPAUTH = "v1.eyJmYWtlIjoidGVtcGF1dGgifQ"  # stands in for Graph's pre-authenticated download token


@contextmanager
def running_fake_graph(workdir: Path) -> Iterator[FakeGraph]:
    """Start a fake with its own test CA (for suites outside tests/sharepoint)."""
    with FakeGraph(trustme.CA(), workdir) as fake:
        yield fake
