"""The errors a document handler raises; `str(error)` is the message shown to the end user."""

from __future__ import annotations


class HandlerError(Exception):
    """Base of every error a document handler raises on purpose."""


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
