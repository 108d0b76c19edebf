"""Memory budgets: what a job reserves at admission, the shares it must fit in, and the memory store's ledger.

A job reserves its maximum result size and its payload's size when it is admitted, atomically with its
insertion; when it ends the result reservation becomes the real result's size and the payload's is
released; the result's bytes are released when it is deleted or swept. So the held bytes never pass
a budget, and a client that fills its own share refuses only its own next start.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.errors import StoreFull
from jobs.settings.machine import default_result_budget
from jobs.settings.model import JobSettings, ServerSettings

MIB = 1024 * 1024
# The share a client gets when none is configured: a quarter of the budget, so that at least four
# clients fit at their full share, and never less than one job's reservation, so that a job can start.
DEFAULT_SHARES = 4
# A client at its own share frees it by fetching results or when its running jobs end: worth a retry soon.
SHARE_RETRY_AFTER_SECONDS = 5


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size} bytes"


@dataclass(frozen=True, slots=True)
class Reservation:
    """The bytes one job holds from admission on: its maximum result and its payload."""

    results: int
    payloads: int

    def __post_init__(self) -> None:
        if self.results < 0 or self.payloads < 0:
            raise ValueError(f"a reservation cannot be negative: {self.results}, {self.payloads}")


NOTHING = Reservation(0, 0)


@dataclass(frozen=True, slots=True)
class Budget:
    """Byte budgets of results and of payloads held, per client and in total (0 for unlimited)."""

    client_results: int = 0
    results: int = 0
    client_payloads: int = 0
    payloads: int = 0
    retry_after: int = SHARE_RETRY_AFTER_SECONDS

    @classmethod
    def from_settings(cls, jobs: JobSettings, server: ServerSettings) -> Budget:
        """The configured budgets, with the shares of 0 derived (see `DEFAULT_SHARES`)."""
        results = jobs.max_stored_result_bytes or default_result_budget(jobs.max_result_bytes)
        return cls(
            client_results=client_share(jobs.max_client_result_bytes, results, jobs.max_result_bytes),
            results=results,
            client_payloads=client_share(
                jobs.max_client_payload_bytes, jobs.max_held_payload_bytes, server.max_body_bytes
            ),
            payloads=jobs.max_held_payload_bytes,
            retry_after=max(1, int(jobs.cleanup_interval_seconds)),
        )

    def limits(self) -> tuple[int, int, int, int]:
        """The four budgets in the order the stores check them (Redis's add.lua takes them so)."""
        return self.client_results, self.results, self.client_payloads, self.payloads

    def check(
        self, client_results: int, results: int, client_payloads: int, payloads: int, reserve: Reservation
    ) -> None:
        """Raise StoreFull when `reserve` on top of what is held would overshoot a budget."""
        if self.client_results and client_results + reserve.results > self.client_results:
            raise self.refusal(0, client_results, reserve)
        if self.results and results + reserve.results > self.results:
            raise self.refusal(1, results, reserve)
        if self.client_payloads and client_payloads + reserve.payloads > self.client_payloads:
            raise self.refusal(2, client_payloads, reserve)
        if self.payloads and payloads + reserve.payloads > self.payloads:
            raise self.refusal(3, payloads, reserve)

    def refusal(self, which: int, held: int, reserve: Reservation) -> StoreFull:
        """The refusal of a start whose reservation overshoots budget number `which` of `limits()`."""
        if which == 0:
            return StoreFull(
                f"your jobs and results hold {_mib(held)} of your {_mib(self.client_results)} share of the result "
                f"store (jobs.max_client_result_bytes); a job reserves {_mib(reserve.results)} "
                "(jobs.max_result_bytes); fetch or delete your finished jobs, or wait for running ones",
                retry_after=SHARE_RETRY_AFTER_SECONDS,
            )
        if which == 1:
            return StoreFull(
                f"the service holds {_mib(held)} of results and reservations, its budget "
                f"{_mib(self.results)} (jobs.max_stored_result_bytes); retry after cleanup",
                retry_after=self.retry_after,
            )
        if which == 2:
            return StoreFull(
                f"your pending and running jobs hold {_mib(held)} of payloads, your share is "
                f"{_mib(self.client_payloads)} (jobs.max_client_payload_bytes); wait for one to finish",
                retry_after=SHARE_RETRY_AFTER_SECONDS,
            )
        return StoreFull(
            f"the service holds {_mib(held)} of payloads of pending and running jobs, its budget "
            f"{_mib(self.payloads)} (jobs.max_held_payload_bytes); retry shortly",
            retry_after=SHARE_RETRY_AFTER_SECONDS,
        )


UNLIMITED = Budget()


def client_share(configured: int, budget: int, one_job: int) -> int:
    """A client's share: the configured one, or (0) a quarter of the budget but at least one job's worth."""
    return configured or min(budget, max(one_job, budget // DEFAULT_SHARES))


@dataclass(slots=True)
class _Hold:
    client: str
    results: int
    payloads: int


class Ledger:
    """The memory store's held bytes, per job, per client and in total (owned by the event loop)."""

    def __init__(self) -> None:
        self._holds: dict[str, _Hold] = {}
        self._results: dict[str, int] = {}  # client -> result bytes held and reserved
        self._payloads: dict[str, int] = {}  # client -> payload bytes held
        self.results = 0
        self.payloads = 0

    def admit(self, job_id: str, client: str, reserve: Reservation, budget: Budget) -> None:
        """Take the job's reservation, or raise StoreFull taking nothing."""
        results, payloads = self.held_by(client)
        budget.check(results, self.results, payloads, self.payloads, reserve)
        self._holds[job_id] = _Hold(client, reserve.results, reserve.payloads)
        self._add(client, reserve.results, reserve.payloads)

    def settle(self, job_id: str, result_bytes: int) -> None:
        """The job ended: its result reservation becomes `result_bytes`, its payload's is released."""
        hold = self._holds.get(job_id)
        if hold is not None:
            self._add(hold.client, result_bytes - hold.results, -hold.payloads)
            hold.results, hold.payloads = result_bytes, 0

    def release(self, job_id: str) -> None:
        """The job is gone: everything it held is released."""
        hold = self._holds.pop(job_id, None)
        if hold is not None:
            self._add(hold.client, -hold.results, -hold.payloads)

    def held_by(self, client: str) -> tuple[int, int]:
        """The client's result bytes (held and reserved) and payload bytes."""
        return self._results.get(client, 0), self._payloads.get(client, 0)

    def clear(self) -> None:
        """Forget everything (the store closed)."""
        self._holds.clear()
        self._results.clear()
        self._payloads.clear()
        self.results = self.payloads = 0

    def _add(self, client: str, results: int, payloads: int) -> None:
        self.results += results
        self.payloads += payloads
        _bump(self._results, client, results)
        _bump(self._payloads, client, payloads)


def _bump(counts: dict[str, int], client: str, delta: int) -> None:
    # A client holding nothing leaves no entry: the maps never grow with every client ever seen.
    if delta:
        total = counts.get(client, 0) + delta
        if total:
            counts[client] = total
        else:
            del counts[client]
