"""The in-memory document library behind the fake Graph: folders, files, sharing URLs, sessions."""

from __future__ import annotations

import base64
import itertools
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

SITE_HOST = "contoso.sharepoint.com"
DRIVE_ID = "b!fakeDriveId-0123456789abcdef"
# Graph requires every chunk but the last to be a multiple of 320 KiB.
CHUNK_UNIT = 320 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


@dataclass
class FakeItem:
    """A file or folder; `reported_size` lets a test make the metadata lie about the size."""

    id: str
    name: str
    parent_id: str | None
    is_folder: bool
    data: bytes = b""
    mime_type: str = "application/octet-stream"
    sharing_url: str = ""
    path: str = ""
    reported_size: int | None = None

    @property
    def web_url(self) -> str:
        """Where a user would open the item in the browser."""
        return f"https://{SITE_HOST}/sites/team/Shared%20Documents/{quote(self.path)}"

    def to_graph(self) -> dict[str, Any]:
        """The driveItem JSON Graph returns."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "webUrl": self.web_url,
            "size": self.reported_size if self.reported_size is not None else len(self.data),
            "parentReference": {"driveId": DRIVE_ID, "driveType": "documentLibrary", "id": self.parent_id},
        }
        if self.is_folder:
            body["folder"] = {"childCount": 0}
        else:
            body["file"] = {"mimeType": self.mime_type}
        return body


@dataclass
class UploadSession:
    """Where a session's bytes go, what has arrived, and the ranges the client sent."""

    parent_id: str | None  # a new file under this folder, or
    item_id: str | None  # new content for this existing file
    name: str
    conflict: str
    received: bytearray = field(default_factory=bytearray)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)

    def accept(self, content_range: str, body: bytes) -> str:
        """Record a chunk, or say why Graph would refuse it."""
        match = _CONTENT_RANGE.fullmatch(content_range)
        if match is None:
            return f"Bad Content-Range header {content_range!r}"
        first, last, total = (int(g) for g in match.groups())
        if first != len(self.received):
            return f"Unexpected range start {first}; expected {len(self.received)}"
        if last - first + 1 != len(body) or last >= total:
            return f"Content-Range {content_range} does not match the {len(body)}-byte body"
        if last + 1 < total and len(body) % CHUNK_UNIT:
            return f"Chunk of {len(body)} bytes is not a multiple of 320 KiB"
        self.received += body
        self.ranges.append((first, last, total))
        return ""


class FakeDrive:
    """One document library with a root folder."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.items: dict[str, FakeItem] = {}
        self.by_sharing_url: dict[str, FakeItem] = {}
        self.sessions: dict[str, UploadSession] = {}
        self.root = self._add(FakeItem(self._new_id(), "root", None, True))

    def add_folder(self, name: str, parent: FakeItem | None = None) -> FakeItem:
        """A folder with a sharing URL."""
        parent = parent or self.root
        return self._add(FakeItem(self._new_id(), name, parent.id, True), kind="f")

    def add_file(self, name: str, data: bytes, parent: FakeItem | None = None, mime_type: str = "") -> FakeItem:
        """A file with a sharing URL."""
        parent = parent or self.root
        item = FakeItem(self._new_id(), name, parent.id, False, data, mime_type or "application/octet-stream")
        return self._add(item, kind="x")

    def shared(self, share_id: str) -> FakeItem | None:
        """Resolve a "u!<base64url>" share id the way Graph does."""
        if not share_id.startswith("u!"):
            return None
        encoded = share_id[2:]
        try:
            url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except ValueError:
            return None
        return self.by_sharing_url.get(url)

    def child(self, parent_id: str, name: str) -> FakeItem | None:
        """The child of a folder with this name (case-insensitive, like SharePoint)."""
        return next(
            (i for i in self.items.values() if i.parent_id == parent_id and i.name.lower() == name.lower()),
            None,
        )

    def put_child(self, parent_id: str, name: str, data: bytes, mime_type: str, conflict: str) -> tuple[FakeItem, int]:
        """Store a file by name under a folder; (item, 200 or 201), or raise FileExistsError."""
        existing = self.child(parent_id, name)
        if existing is not None and conflict == "fail":
            raise FileExistsError(name)
        if existing is not None and conflict == "rename":
            stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
            name = next(n for k in itertools.count(1) if not self.child(parent_id, n := f"{stem} {k}{dot}{ext}"))
            existing = None
        if existing is not None:
            existing.data, existing.mime_type = data, mime_type
            return existing, 200
        return self.add_file(name, data, self.items[parent_id], mime_type), 201

    def open_session(self, session: UploadSession) -> str:
        """Store a session and return its id."""
        session_id = secrets.token_urlsafe(12)
        self.sessions[session_id] = session
        return session_id

    def _new_id(self) -> str:
        return f"01FAKEITEM{next(self._ids):06d}"

    def _add(self, item: FakeItem, kind: str = "") -> FakeItem:
        parent = self.items.get(item.parent_id or "")
        item.path = f"{parent.path}/{item.name}".lstrip("/") if parent and parent.parent_id else item.name
        if kind:
            item.sharing_url = f"https://{SITE_HOST}/:{kind}:/s/team/E{secrets.token_urlsafe(16)}?e=abc123"
            self.by_sharing_url[item.sharing_url] = item
        self.items[item.id] = item
        return item
