"""A job as a Redis hash: one field per attribute, JSON for nested values, absent fields for None."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from jobs.model import Job

_FLOATS = frozenset({"timeout_seconds", "created_at", "updated_at", "started_at", "finished_at", "delivered_at"})
_INTS = frozenset({"progress", "retry_count"})
_JSON = frozenset({"payload", "extra"})
# Fields of the job record; the hash also holds bookkeeping of the store's own (claimed_by, ...).
_JOB_FIELDS = frozenset(f.name for f in fields(Job))
# What a status read takes of a record: all but the payload (up to server.max_body_bytes), which only
# the runner needs and gets from the claim.
STATUS_FIELDS = tuple(sorted(_JOB_FIELDS - {"payload"}))


def encode_job(job: Job) -> list[str | bytes]:
    """The record as flat field/value pairs for HSET (floats keep every digit through `repr`)."""
    flat: list[str | bytes] = []
    for name, value in job.to_dict().items():
        text: str | bytes
        if value is None:
            continue
        if isinstance(value, bytes):
            text = value  # the result, sent as the worker encoded it
        elif name in _JSON:
            text = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        flat += [name, text]
    return flat


def pairs(flat: Sequence[str]) -> dict[str, str]:
    """A flat HGETALL reply from a script as a mapping."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def decode_job(record: Mapping[str, str] | Sequence[str]) -> Job:
    """The inverse of `encode_job`, from a mapping or a flat reply; store bookkeeping fields are ignored."""
    raw = record if isinstance(record, Mapping) else pairs(record)
    data: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in _JOB_FIELDS:
            continue
        if name in _JSON:
            data[name] = json.loads(text)
        elif name in _FLOATS:
            data[name] = float(text)
        elif name in _INTS:
            data[name] = int(text)
        elif name == "result_json":
            data[name] = text.encode()  # the client decodes every reply; results are bytes
        else:
            data[name] = text
    data.setdefault("payload", {})  # a finished job's payload is dropped
    return Job.from_dict(data)
