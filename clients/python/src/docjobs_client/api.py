"""The async docjobs client: start a job, follow it, fetch its result, cancel it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self
from urllib.parse import SplitResult, urlsplit

import aiohttp

from docjobs_client.errors import (
    DeadlineExceeded,
    DocjobsClientError,
    InvalidResponse,
    InvalidServiceUrl,
    RequestRejected,
    ServiceUnavailable,
    TooManyJobs,
)
from docjobs_client.follow import Follower, PollPolicy, ProgressCallback, Watch
from docjobs_client.models import JobSnapshot, StartedJob
from docjobs_client.transport import Transport

JOBS = "/api/v1/jobs"
DEFAULT_URL = "http://127.0.0.1:8080"
# Job ids as the service makes them; checked before one goes into a URL path.
JOB_ID = re.compile(r"job_\d{13}_[0-9a-f]{32}")


class DocjobsClient:
    """Async client of one docjobs service; use it as `async with DocjobsClient(url) as client`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        attempts: int = 4,
        request_timeout: float = 60.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = checked_url(base_url)
        self._api_key = api_key
        self._attempts = attempts
        self._request_timeout = request_timeout
        self._session = session
        self._owns_session = session is None
        self._transport: Transport | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **kwargs: Any) -> DocjobsClient:
        """A client for DOCJOBS_URL (default http://127.0.0.1:8080) with DOCJOBS_API_KEY, if set."""
        return cls(environ.get("DOCJOBS_URL") or DEFAULT_URL, environ.get("DOCJOBS_API_KEY") or None, **kwargs)

    async def __aenter__(self) -> Self:
        self._http()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session, if the client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        self._transport = None

    async def start(self, endpoint: str, payload: Any = None) -> StartedJob:
        """Start a job; TooManyJobs or ServiceUnavailable carry the service's retry_after."""
        answer = await self._http().request(
            "POST", f"{JOBS}/start", json_body={"endpoint": endpoint, "payload": {} if payload is None else payload}
        )
        return StartedJob.from_dict(answer.body, answer.retry_after)

    async def status(self, job_id: str, wait: float | None = None, since: str | None = None) -> JobSnapshot:
        """The job's status; with `wait` (0 < wait <= 30) the service answers on the next change.

        `since` is the `updated_at` of the last status seen: a job changed after it is answered at once.
        """
        params = {"wait": f"{wait:g}"} if wait else None
        if params is not None and since:
            params["since"] = since
        timeout = self._request_timeout + (wait or 0)
        answer = await self._http().request(
            "GET", f"{JOBS}/{_checked(job_id)}/status", params=params, job_id=job_id, timeout=timeout
        )
        return JobSnapshot.from_dict(answer.body, answer.retry_after)

    async def result(self, job_id: str) -> dict[str, Any]:
        """The handler's answer (`{"success", "message", "data"}`); JobFailed, JobExpired or JobNotReady."""
        answer = await self._http().request("GET", f"{JOBS}/{_checked(job_id)}/result", job_id=job_id)
        data = answer.body.get("data")
        if not isinstance(data, dict):
            raise InvalidResponse("the result answer has no data object", job_id=job_id, body=answer.body)
        return data

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel the job (a running one has its worker stopped) and forget it."""
        answer = await self._http().request("DELETE", f"{JOBS}/{_checked(job_id)}", job_id=job_id)
        return answer.body

    async def wait(
        self,
        job_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        deadline: float | None = None,
        policy: PollPolicy | None = None,
    ) -> JobSnapshot:
        """Follow the job until it is over, calling `on_progress` on each change; its final status."""
        watch = Watch(job_id=_checked(job_id))
        async with self._deadline(deadline, watch):
            return await Follower(self.status, watch, policy or PollPolicy(), None, on_progress).until_done(job_id)

    async def run(
        self,
        endpoint: str,
        payload: Any = None,
        *,
        on_progress: ProgressCallback | None = None,
        on_start: Callable[[StartedJob], None] | None = None,
        deadline: float | None = 300.0,
        policy: PollPolicy | None = None,
    ) -> dict[str, Any]:
        """Start a job, follow it and return its result, all within `deadline` seconds.

        A 429 or 503 on start is retried after its Retry-After while the deadline allows. Past the
        deadline DeadlineExceeded carries the job id, so the caller can `wait` again or `cancel`.
        """
        watch = Watch()
        async with self._deadline(deadline, watch):
            started = await self._start_when_admitted(endpoint, payload, watch)
            watch.job_id = started.job_id
            if on_start is not None:
                on_start(started)
            follower = Follower(self.status, watch, policy or PollPolicy(), started.retry_after, on_progress)
            await follower.until_done(started.job_id)
            return await self.result(started.job_id)

    async def _start_when_admitted(self, endpoint: str, payload: Any, watch: Watch) -> StartedJob:
        while True:
            try:
                return await self.start(endpoint, payload)
            except (TooManyJobs, ServiceUnavailable) as error:
                # Neither answer created a job, so trying again is safe; waiting past the deadline is not.
                pause = error.retry_after
                remaining = watch.remaining()
                if error.status not in (429, 503) or pause is None or (remaining is not None and pause >= remaining):
                    raise
                await asyncio.sleep(pause)

    @asynccontextmanager
    async def _deadline(self, seconds: float | None, watch: Watch) -> AsyncIterator[None]:
        if seconds is None:
            yield
            return
        watch.deadline_at = asyncio.get_running_loop().time() + seconds
        scope = asyncio.timeout_at(watch.deadline_at)
        try:
            async with scope:
                yield
        except TimeoutError:
            if not scope.expired():
                raise
            raise _deadline_error(seconds, watch) from None

    def _http(self) -> Transport:
        if self._transport is None:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            self._transport = Transport(
                self._session, self.base_url, self._api_key, self._attempts, self._request_timeout
            )
        return self._transport


def checked_url(base_url: str) -> str:
    """`base_url` if it is an http(s) URL with a host; else InvalidServiceUrl, before aiohttp sees it."""
    parts = urlsplit(base_url)
    if parts.scheme in ("http", "https") and _names_a_host(parts):
        return base_url
    shown = repr(base_url[:80])
    # `localhost:8080` parses as scheme "localhost": say what is missing rather than what aiohttp would.
    if base_url and "://" not in base_url and not base_url.startswith(("http:", "https:")):
        hint = f"; did you mean {'http://' + base_url[:80]!r}?"
    else:
        hint = ""
    raise InvalidServiceUrl(f"the service URL {shown} is not http:// or https://, a host and an optional port{hint}")


def _names_a_host(parts: SplitResult) -> bool:
    try:
        port = parts.port  # a port that is no number, or out of range, raises
    except ValueError:
        return False
    return bool(parts.hostname) and port != 0


def _checked(job_id: str) -> str:
    if not JOB_ID.fullmatch(job_id):
        raise RequestRejected(f"not a job id: {job_id[:80]!r}", code="invalid_job_id", job_id=None)
    return job_id


def _deadline_error(seconds: float, watch: Watch) -> DocjobsClientError:
    last = watch.last
    where = f" (job {last.state}, {last.progress}%: {last.message})" if last else ""
    return DeadlineExceeded(f"no result within {seconds:g} s{where}", job_id=watch.job_id, last_status=last)
