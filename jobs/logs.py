"""JSON lines for lifecycle events, one per line on standard error."""

from __future__ import annotations

import logging
import sys
from typing import Any

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


def configure_logging(level: str) -> None:
    """Send every docjobs and aiohttp log record to standard error as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
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
    if _events.isEnabledFor(level):
        _events.log(level, event, extra={"fields": fields})
