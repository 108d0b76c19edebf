"""The per-process cache: settings and the msal token source, built lazily on first use.

This is the only module-level state in the package, and it is deliberate. Handlers run in a process
pool, one job at a time per process; reading the environment once and keeping one msal app per
process is what lets consecutive jobs reuse an access token instead of signing in for every file.
Nothing is read at import time. After a fork the child rebuilds both (the parent's HTTP
connections must not be shared), and `reset_process_cache()` lets tests start afresh.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from .auth import TokenSource
from .settings import SharePointSettings


@dataclass(slots=True)
class _Entries:
    pid: int
    settings: SharePointSettings | None = None
    token_source: TokenSource | None = None


class ProcessCache:
    """Lazily built, per-process values, guarded by a lock and invalidated by fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries = _Entries(pid=os.getpid())

    def settings(self) -> SharePointSettings:
        """Settings from the environment, read on first use in this process."""
        with self._lock:
            entries = self._current()
            if entries.settings is None:
                entries.settings = SharePointSettings.from_env(os.environ)
            return entries.settings

    def token_source(self, settings: SharePointSettings) -> TokenSource:
        """The token source for these settings; a new one if the settings changed."""
        with self._lock:
            entries = self._current()
            source = entries.token_source
            if source is None or source.settings != settings:
                if source is not None:
                    source.close()
                source = entries.token_source = TokenSource(settings)
            return source

    def reset(self) -> None:
        """Forget everything, so the next call reads the environment and signs in again."""
        with self._lock:
            if self._entries.token_source is not None and self._entries.pid == os.getpid():
                self._entries.token_source.close()
            self._entries = _Entries(pid=os.getpid())

    def _current(self) -> _Entries:
        if self._entries.pid != os.getpid():
            self._entries = _Entries(pid=os.getpid())
        return self._entries


PROCESS_CACHE = ProcessCache()


def reset_process_cache() -> None:
    """Forget the cached settings and token source of this process (for tests)."""
    PROCESS_CACHE.reset()
