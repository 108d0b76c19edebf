"""The errors a document handler raises; `str(error)` is the message shown to the end user.

The base class makes every message safe to show, whatever its subclass or raiser put in it: Python
reprs of objects (`<_io.BytesIO object at 0x...>`) and control characters are taken out, and the
text is cut to MAX_MESSAGE_CHARS, so a message can never carry a traceback-like blob or the
contents of a file or payload at length.
"""

from __future__ import annotations

import re

# Long enough for a sentence naming a sheet, a part and what to do; short enough for a log line or a
# toast in a user interface (and far too short to smuggle a file's contents out).
MAX_MESSAGE_CHARS = 300

_OBJECT_REPR = re.compile(r"<[\w.]+(?: object)? at 0x[0-9a-fA-F]+>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def safe_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` without object reprs or control characters, cut to `limit` characters."""
    text = _CONTROL.sub(" ", _OBJECT_REPR.sub("an object", text)).strip()
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


class HandlerError(Exception):
    """Base of every error a document handler raises on purpose; its message is bounded and sanitised."""

    def __init__(self, message: str = "") -> None:
        super().__init__(safe_message(str(message)))


class PayloadError(HandlerError, ValueError):
    """The payload is malformed; the message names the offending field."""


class InvalidFile(HandlerError):
    """The document is not a readable file of the expected kind."""


class UnsafeFile(InvalidFile):
    """The document is refused because reading it could exhaust the worker (a zip or XML bomb)."""


class SheetNotFound(HandlerError):
    """A sheet named in the payload does not exist in the workbook."""


class TableNotFound(HandlerError):
    """A named Excel table or a data table named in the payload does not exist."""


class InvalidCellReference(PayloadError):
    """A cell or range reference is not valid A1 notation."""


class UpdateFailed(HandlerError):
    """An update cannot be applied to the workbook as asked."""


class SourceUnavailable(HandlerError):
    """A source file cannot be fetched, or an output cannot be uploaded."""
