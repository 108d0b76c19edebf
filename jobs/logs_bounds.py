"""Bounds on the text that reaches the logs and the answers: a handler's message can be any size."""

from __future__ import annotations

# What a client reads of one error (the project's rule for every answer), and the most a status's
# message or a failed job's log fields carry: a 20,000,000-character sheet name must not grow either.
MESSAGE_MAX_CHARS = 300
# One line a worker wrote to its stderr, re-emitted as a log record: a Rust backtrace line or a
# library warning fits; a dump of file content does not.
STDERR_LINE_MAX_CHARS = 1000


def bounded(text: str, limit: int = MESSAGE_MAX_CHARS) -> str:
    """`text`, cut to at most `limit` characters (the cut marked with an ellipsis)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"
