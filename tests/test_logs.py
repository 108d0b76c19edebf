"""Lifecycle events written straight to the JSON-lines handler are the lines its formatter writes."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import pytest

from jobs.logs import EVENTS_LOGGER, JsonFormatter, JsonLinesHandler, configure_logging, log_event

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """configure_logging on a captured stderr; the logging set-up before it is put back afterwards."""
    root, events = logging.getLogger(), logging.getLogger(EVENTS_LOGGER)
    # configure_logging changes these lists in place: it gets copies, and monkeypatch puts the originals back.
    monkeypatch.setattr(root, "handlers", root.handlers[:])
    monkeypatch.setattr(events, "handlers", events.handlers[:])
    monkeypatch.setattr(events, "propagate", events.propagate)
    level = root.level
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("info")
    yield stream
    root.setLevel(level)


def as_on_the_server(monkeypatch: pytest.MonkeyPatch) -> JsonLinesHandler:
    """The events logger with only the server's handler: pytest adds its capture handlers to every
    non-propagating logger when a test starts, which (rightly) sends events the standard way."""
    events = logging.getLogger(EVENTS_LOGGER)
    (handler,) = [h for h in events.handlers if isinstance(h, JsonLinesHandler)]
    monkeypatch.setattr(events, "handlers", [handler])
    return handler


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_event_is_the_line_the_formatter_writes_for_its_record(
    stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_on_the_server(monkeypatch)
    fields: dict[str, Any] = {"job_id": "job_1", "duration_seconds": 0.25, "path": PurePosixPath("/x"), "none": None}
    log_event("job.completed", **fields)
    record = logging.LogRecord(EVENTS_LOGGER, logging.INFO, "", 0, "job.completed", None, None)
    record.fields = fields
    (written,) = stderr.getvalue().splitlines()
    expected = json.loads(JsonFormatter().format(record))
    got = json.loads(written)
    assert TIME.fullmatch(str(got.pop("time")))
    expected.pop("time")
    assert list(got) == list(expected)  # same keys, same order
    assert (
        got
        == expected
        == {
            "level": "info",
            "logger": EVENTS_LOGGER,
            "event": "job.completed",
            "job_id": "job_1",
            "duration_seconds": 0.25,
            "path": "/x",
            "none": None,
        }
    )


def test_an_event_makes_no_log_record(stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> logging.LogRecord:
        raise AssertionError("a LogRecord was made for a lifecycle event")

    as_on_the_server(monkeypatch)
    monkeypatch.setattr(logging.Logger, "makeRecord", refuse)
    log_event("job.created", job_id="job_4")
    assert [line["event"] for line in lines(stderr)] == ["job.created"]


def test_the_level_decides_what_is_written(stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    as_on_the_server(monkeypatch)
    log_event("quiet", level=logging.DEBUG, a=1)
    log_event("loud", level=logging.WARNING, a=2)
    assert [(line["event"], line["level"]) for line in lines(stderr)] == [("loud", "warning")]


def test_events_and_other_records_share_one_stream_in_order(
    stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_on_the_server(monkeypatch)
    log_event("first")
    logging.getLogger("docjobs.runner").warning("second %s", "record")
    log_event("third")
    assert [line["event"] for line in lines(stderr)] == ["first", "second record", "third"]


def test_a_failing_stream_is_reported_by_logging_and_raises_nothing(
    stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[logging.LogRecord] = []
    handler = as_on_the_server(monkeypatch)
    monkeypatch.setattr(handler, "handleError", reported.append)
    stderr.close()  # writing now raises ValueError
    log_event("job.created", job_id="job_2")
    assert [record.getMessage() for record in reported] == ["job.created"]


def test_without_the_servers_set_up_events_are_ordinary_records(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=EVENTS_LOGGER):
        log_event("job.running", job_id="job_3", worker_pid=7)
    (record,) = [r for r in caplog.records if r.name == EVENTS_LOGGER]
    assert record.getMessage() == "job.running"
    assert record.fields == {"job_id": "job_3", "worker_pid": 7}  # type: ignore[attr-defined]
