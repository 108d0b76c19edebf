"""A worker's standard error, read by the server and re-emitted as JSON log records.

A worker's fd 2 is one end of a socket pair (`worker_main` puts it there); whatever reaches it, from
Python, a C extension or a Rust library's backtrace, arrives here line by line. A line that is
already a JSON record (what `jobs.pool.failures` writes) is logged as that record; any other line
becomes a `worker.stderr` record carrying the bounded line.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from jobs.logs_bounds import STDERR_LINE_MAX_CHARS, bounded

log = logging.getLogger("docjobs.worker")
# A "line" longer than this without a newline is cut: the buffer never holds more.
MAX_BUFFERED_BYTES = 64 * 1024
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class StderrLines(asyncio.Protocol):
    """Reads one worker's stderr and logs each line."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._buffer = bytearray()
        self._skipping = False  # the rest of an overlong line is dropped

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False
            else:
                self.emit(line)
        if len(self._buffer) > MAX_BUFFERED_BYTES:
            if not self._skipping:
                self.emit(bytes(self._buffer[:MAX_BUFFERED_BYTES]))
            self._buffer.clear()
            self._skipping = True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._buffer and not self._skipping:
            self.emit(bytes(self._buffer))
        self._buffer.clear()

    def emit(self, raw: bytes) -> None:
        """Log one line the worker wrote."""
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text.strip():
            return
        record = _as_record(text)
        if record is None:
            fields = {"worker_pid": self._pid, "line": bounded(text, STDERR_LINE_MAX_CHARS)}
            log.warning("worker.stderr", extra={"fields": fields})
            return
        level = LEVELS.get(str(record.pop("level", "")), logging.WARNING)
        event = bounded(str(record.pop("event", "worker.record")), 100)
        record.pop("logger", None)
        log.log(level, event, extra={"fields": {**record, "worker_pid": self._pid}})


def _as_record(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "event" in record else None
