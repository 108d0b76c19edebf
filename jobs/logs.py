"""JSON lines for lifecycle events, one per line on standard error.

Every record goes through the standard logging module, but for the service's own lifecycle events
(`log_event`: four per job) on the server, where `configure_logging` gives their logger one JSON-lines
handler: those are written to it directly, as structlog writes without the stdlib. A LogRecord, the
logger hierarchy walk and the handler's locks cost 20 us an event, three quarters of it, and the API
serves a thousand jobs a second. The line is the one the formatter would write for the same record.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from aiohttp.http_exceptions import HttpProcessingError

from jobs.jsontext import compact_json
from jobs.model import isoformat

EVENTS_LOGGER = "docjobs.events"
# A log line's JSON: fields that are not JSON (an exception, a path) are written as their str().
_line = compact_json(allow_nan=True, default=str)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, event, and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": isoformat(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _line(entry)


class JsonLinesHandler(logging.StreamHandler[TextIO]):
    """Writes records as JSON lines; lifecycle events reach it without a LogRecord (`write_event`)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.setFormatter(JsonFormatter())

    def write_event(self, level: int, event: str, fields: dict[str, Any]) -> None:
        """The line JsonFormatter writes for an event's record (same keys, same order), flushed at once."""
        entry: dict[str, Any] = {
            "time": isoformat(time.time()),
            "level": logging.getLevelName(level).lower(),
            "logger": EVENTS_LOGGER,
            "event": event,
        }
        entry.update(fields)
        line = _line(entry) + self.terminator
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__; lines never interleave
            try:
                self.stream.write(line)
                self.stream.flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"name": EVENTS_LOGGER, "msg": event, "levelno": level}))


def configure_logging(level: str) -> None:
    """Send every docjobs and aiohttp log record to standard error as JSON."""
    handler = JsonLinesHandler(sys.stderr)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # The events' own handler (the same one: one lock, one stream), which `log_event` writes to directly.
    events = logging.getLogger(EVENTS_LOGGER)
    events.handlers[:] = [handler]
    events.propagate = False
    root.setLevel(level.upper())
    # The JSON lines carry none of these, and gathering them (a stack walk for the caller's file and
    # line, the thread and process names) was most of the cost of a log call: the logging HOWTO's
    # "Optimization" section lists exactly these switches.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # The access log duplicates what lifecycle events say, at a line per status poll.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(quiet_malformed_requests)


def quiet_malformed_requests(record: logging.LogRecord) -> bool:
    """Shorten aiohttp's report of a request it could not parse to one line without the request.

    aiohttp logs the offending header line and a traceback at ERROR: a client could write an API key
    into the logs that way (a key followed by a control character), or flood them with tracebacks.
    """
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, HttpProcessingError):
        record.msg, record.args = "rejected a malformed HTTP request (%s)", (type(error).__name__,)
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


_events = logging.getLogger(EVENTS_LOGGER)


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log one lifecycle event with its fields (job id, endpoint, client, duration...)."""
    if not _events.isEnabledFor(level):
        return
    handlers = _events.handlers
    if len(handlers) == 1 and type(handlers[0]) is JsonLinesHandler and not _events.filters:
        handlers[0].write_event(level, event, fields)
    else:  # anywhere else (tests with caplog, a library user's logging): the standard way
        _events.log(level, event, extra={"fields": fields})
