"""A blocking client for a live `python server.py`, for the end-to-end tests of the document handlers.

Jobs are followed with long polls (`/status?wait=`) and event streams, never with sleeps, so the
tests wait exactly as long as the jobs take.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.handlers.builders import b64, report_workbook
from tests.process import ServerProcess, free_port, run_server

MIB = 1024 * 1024
JOB_DEADLINE_SECONDS = 60.0  # far above any job here (each takes well under a second)


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status code and JSON body."""

    status: int
    body: dict[str, Any]


class LiveService:
    """JSON calls to a running server: start a job, follow it, fetch its result, call an endpoint directly."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.url = server.url

    def request(self, method: str, path: str, body: object = None) -> Answer:
        """One request; error statuses are answers too, not exceptions."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=JOB_DEADLINE_SECONDS) as response:
                return Answer(response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, json.loads(error.read()))

    def start(self, endpoint: str, payload: Mapping[str, Any]) -> Answer:
        """POST /api/v1/jobs/start."""
        return self.request("POST", "/api/v1/jobs/start", {"endpoint": endpoint, "payload": payload})

    def start_ok(self, endpoint: str, payload: Mapping[str, Any]) -> str:
        """Start a job that the validator accepts; its id."""
        answer = self.start(endpoint, payload)
        assert answer.status == 202, answer.body
        job_id: str = answer.body["jobId"]
        return job_id

    def wait(self, job_id: str) -> dict[str, Any]:
        """The job's status view once it has finished."""
        deadline = time.monotonic() + JOB_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            answer = self.request("GET", f"/api/v1/jobs/{job_id}/status?wait=10")
            assert answer.status == 200, answer.body
            if answer.body["status"] not in ("pending", "running"):
                return answer.body
        raise AssertionError(f"job {job_id} did not finish:\n{self.server.logs()[-4000:]}")

    def run(self, endpoint: str, payload: Mapping[str, Any]) -> tuple[dict[str, Any], Answer]:
        """Start, follow and fetch a job: (final status view, result answer)."""
        job_id = self.start_ok(endpoint, payload)
        status = self.wait(job_id)
        return status, self.request("GET", f"/api/v1/jobs/{job_id}/result")

    def result(self, endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The handler's `data` object of a job that must complete."""
        return self.result_of(self.start_ok(endpoint, payload))

    def result_of(self, job_id: str) -> dict[str, Any]:
        """The handler's `data` object of a started job that must complete."""
        status = self.wait(job_id)
        answer = self.request("GET", f"/api/v1/jobs/{job_id}/result")
        assert status["status"] == "completed", status
        assert (status["progress"], status["message"]) == (100, "Job completed successfully")
        assert answer.status == 200, answer.body
        handler: dict[str, Any] = answer.body["data"]
        assert handler["success"] is True, handler
        data: dict[str, Any] = handler["data"]
        return data

    def failure(self, endpoint: str, payload: Mapping[str, Any]) -> str:
        """The message of a job that must fail (and whose result answers 422 with the same message)."""
        status, answer = self.run(endpoint, payload)
        assert status["status"] == "failed", status
        assert answer.status == 422, answer.body
        message: str = status["message"]
        assert answer.body["message"] == message
        return message

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """Every status event the server streams for the job, until it ends."""
        events = []
        with urllib.request.urlopen(f"{self.url}/api/v1/jobs/{job_id}/events", timeout=JOB_DEADLINE_SECONDS) as stream:
            for line in stream:
                if line.startswith(b"data: "):
                    events.append(json.loads(line[len(b"data: ") :]))
        return events

    def assert_healthy(self) -> None:
        """The service still answers ready and still completes a real job."""
        assert self.request("GET", "/readyz").status == 200
        rules = [{"type": "cell", "key": "client", "cell": "B1"}]
        payload = {
            "excel_base64": b64(report_workbook()),
            "config": {"sheets": {"Report": {"extraction_rules": rules}}},
        }
        data = self.result("/api/v1/extract", payload)
        assert data["sheets"]["Report"]["key_value_pairs"] == {"client": "ACME Ltd"}


@contextmanager
def live_service(workdir: Path, env: Mapping[str, str]) -> Iterator[LiveService]:
    """`python server.py` with one worker (so token reuse is observable) and `env` on top of ours."""
    port = free_port()
    with run_server(workdir, ["--port", str(port), "--workers", "1"], env, port=port) as server:
        yield LiveService(server)
