"""API keys: which client a bearer key belongs to, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from jobs.settings import AuthSettings


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: the client name of their key, and whether it may see every client's jobs."""

    client: str
    admin: bool


class ApiKeys:
    """The configured keys, kept only as SHA-256 digests."""

    def __init__(self, settings: AuthSettings) -> None:
        self._digests: list[tuple[bytes, str]] = [(_digest_of(key), name) for name, key in settings.keys]
        self._admins = frozenset(settings.admin)

    @property
    def enabled(self) -> bool:
        """True when at least one key is configured: every API call must then present one."""
        return bool(self._digests)

    def identify(self, authorization: str | None) -> Identity | None:
        """The identity for an `Authorization: Bearer <key>` header, or None when it matches no key."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = hashlib.sha256(authorization[7:].encode("utf-8", "surrogateescape")).digest()
        found: str | None = None
        # Every digest is compared, match or not, so the time taken says nothing about the keys.
        for digest, name in self._digests:
            if hmac.compare_digest(digest, presented):
                found = name
        if found is None:
            return None
        return Identity(found, found in self._admins)


def _digest_of(key: str) -> bytes:
    if key.startswith("sha256:"):
        return bytes.fromhex(key[7:])
    return hashlib.sha256(key.encode("utf-8")).digest()


def hash_key(key: str) -> str:
    """The `sha256:<hex>` form of a key, for configuration files that must not hold the key itself."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
