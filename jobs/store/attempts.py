"""Which attempt of each job this instance holds: the fencing token its writes carry.

Every claim in the shared store starts a new attempt of the job. A write names the attempt it speaks
for, and the store refuses it once the job has moved on to another attempt, even one claimed by this
same instance: instance fencing alone let attempt 1's late "completed" land on attempt 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from jobs.store.codec import pairs


class ClaimedAttempts:
    """The attempt number of every job this instance has claimed and not yet let go."""

    def __init__(self) -> None:
        self._attempts: dict[str, str] = {}

    def remember(self, record: Mapping[str, str] | Sequence[str] | None) -> None:
        """Note the attempt of a claimed job from its record (a flat reply or a mapping)."""
        if not record:
            return
        fields = record if isinstance(record, Mapping) else pairs(record)
        if "id" in fields and "attempt" in fields:
            self._attempts[fields["id"]] = fields["attempt"]

    def remember_all(self, records: Iterable[Sequence[str]]) -> None:
        """`remember` for each record."""
        for record in records:
            self.remember(record)

    def of(self, job_id: str) -> str:
        """The attempt this instance holds, or "" (unchecked) when it claimed no attempt of the job."""
        return self._attempts.get(job_id, "")

    def forget(self, job_id: str) -> None:
        """The job's attempt is over here (finished, requeued, deleted, or its claim was lost)."""
        self._attempts.pop(job_id, None)

    def lost(self, me: str, stored: Mapping[str, Sequence[str | None]]) -> list[str]:
        """The jobs whose stored (claimed_by, attempt) is no longer this instance's attempt; forgets them."""
        lost = []
        for job_id, (owner, attempt) in stored.items():
            mine = self.of(job_id)
            if owner != me or (mine and attempt != mine):
                lost.append(job_id)
                self.forget(job_id)
        return lost
