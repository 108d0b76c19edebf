"""How job endings are worded and bounded."""

from __future__ import annotations

from jobs.logs_bounds import MESSAGE_MAX_CHARS, bounded
from jobs.model import Job, JobStatus
from jobs.outcomes import TaskEnd, final_state_of


def _job() -> Job:
    return Job(id="job_1", endpoint="/e", payload={}, client="c", timeout_seconds=5, created_at=1.0)


def test_a_handler_error_quoting_its_whole_payload_is_stored_cut_to_a_few_kb() -> None:
    final = final_state_of(_job(), TaskEnd("error", "ValueError", "bad value: " + "A" * 30_000_000))
    assert final.status is JobStatus.FAILED
    assert len(final.message) <= MESSAGE_MAX_CHARS and final.error is not None
    assert len(final.error) <= MESSAGE_MAX_CHARS
    assert final.message.startswith("Job failed: bad value: AAA")
    assert final.message.endswith("\u2026"), "the cut is marked"


def test_a_short_message_is_kept_as_it_is() -> None:
    assert bounded("Excel file not found") == "Excel file not found"
    assert final_state_of(_job(), TaskEnd("error", "E", "boom")).message == "Job failed: boom"
