"""How a handler's exception leaves its worker: a bounded message for the job's owner, and for the
log only the exception's type, where it was raised, and its stack (never its message, which may
quote the payload or the file)."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass

from jobs.logs_bounds import MESSAGE_MAX_CHARS, bounded

# Messages longer than this are not compared with their argument's repr (a cheap check stays cheap).
REPR_CHECK_MAX_CHARS = 1000
MAX_FRAMES = 20


@dataclass(frozen=True, slots=True)
class Failure:
    """A handler exception reduced to what may cross the pipe."""

    error_type: str
    message: str
    where: str


def describe(exc: BaseException) -> Failure:
    """The failure of a handler call, with its frames logged to the worker's stderr as a JSON line."""
    return Failure(type(exc).__name__, message_of(exc), where_raised(exc))


def message_of(exc: BaseException) -> str:
    """The exception's message, bounded; with its type named where the message alone says nothing.

    `KeyError('x')` reads `'x'`: the client gets `KeyError: 'x'`. A message that is just the repr of
    its one argument is treated the same way, and an empty one becomes the type's name.
    """
    text = str(exc)
    name = type(exc).__name__
    if not text:
        return name
    if len(text) <= REPR_CHECK_MAX_CHARS and (
        isinstance(exc, KeyError) or (len(exc.args) == 1 and text == repr(exc.args[0]))
    ):
        text = f"{name}: {text}"
    return bounded(text, MESSAGE_MAX_CHARS)


def where_raised(exc: BaseException) -> str:
    """`module:line` of the innermost frame of the exception's traceback."""
    tb = exc.__traceback__
    if tb is None:
        return "unknown"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_globals.get('__name__', '?')}:{tb.tb_lineno}"


def log_failure(job_id: str, exc: BaseException, failure: Failure) -> None:
    """One JSON line on stderr (which the server re-emits as a log record): the stack, not the message."""
    # The innermost frames say where it failed; a deep recursion's thousand frames would say no more.
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]))
    record = {
        "level": "error",
        "logger": "docjobs.worker",
        "event": "handler.exception",
        "job_id": job_id,
        "error_type": failure.error_type,
        "where": failure.where,
        "traceback": frames + failure.error_type,
    }
    sys.stderr.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stderr.flush()
