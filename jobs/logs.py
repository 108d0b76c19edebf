"""JSON lines for lifecycle events, one per line on standard error."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

EVENTS_LOGGER = "docjobs.events"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, event, and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure_logging(level: str) -> None:
    """Send every docjobs and aiohttp log record to standard error as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The access log duplicates what lifecycle events say, at a line per status poll.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log one lifecycle event with its fields (job id, endpoint, client, duration...)."""
    logger = logging.getLogger(EVENTS_LOGGER)
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})
