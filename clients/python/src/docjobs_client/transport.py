"""HTTP for the client: aiohttp with aiohttp-retry, JSON bodies, errors mapped to the client's classes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp_retry import ExponentialRetry, RetryClient

from docjobs_client.errors import ConnectionFailed, InvalidResponse, error_from_answer, parse_retry_after

# A gateway or the service is briefly unable to answer; nothing was done, so asking again is safe.
RETRY_STATUSES = frozenset({502, 503, 504})
# A GET or DELETE may be repeated after any broken connection (a delivered result is kept for a grace
# period, a second delete is a 404); a POST only when no connection was ever made, or it could start
# a second job.
IDEMPOTENT_ERRORS = frozenset({aiohttp.ClientConnectionError, aiohttp.ClientPayloadError})
POST_ERRORS = frozenset({aiohttp.ClientConnectorError})


class RetryAfterBackoff(ExponentialRetry):
    """Exponential backoff that waits at least as long as the answer's Retry-After asks (capped)."""

    def get_timeout(self, attempt: int, response: aiohttp.ClientResponse | None = None) -> float:
        """The pause before the next attempt."""
        backoff = super().get_timeout(attempt, response)
        if response is None:
            return backoff
        response.release()  # the answer is dropped for a retry: give its connection back now
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return backoff if retry_after is None else min(max(backoff, retry_after), self._max_timeout)


async def _read_body(response: aiohttp.ClientResponse) -> bool:
    # aiohttp-retry asks this of each answer it would return: reading the body here makes a
    # connection broken mid-body one more retryable error instead of a failure after the retries.
    await response.read()
    return True


def retry_options(attempts: int, *, idempotent: bool) -> RetryAfterBackoff:
    """Retries for GET/DELETE (idempotent) or POST."""
    return RetryAfterBackoff(
        attempts=attempts,
        start_timeout=0.2,
        max_timeout=30.0,
        statuses=set(RETRY_STATUSES) if idempotent else set(),
        exceptions=set(IDEMPOTENT_ERRORS if idempotent else POST_ERRORS),
        retry_all_server_errors=False,
        evaluate_response_callback=_read_body,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful JSON answer and its Retry-After."""

    body: dict[str, Any]
    retry_after: float | None


class Transport:
    """Sends requests to one service with the key, retries, and error mapping."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, api_key: str | None, attempts: int, timeout: float
    ) -> None:
        self._client = RetryClient(client_session=session, retry_options=retry_options(attempts, idempotent=True))
        self._post_retries = retry_options(attempts, idempotent=False)
        self._base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        job_id: str | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request (with retries); its JSON body, or the mapped error."""
        url = f"{self._base_url}{path}"
        options = self._post_retries if method == "POST" else None
        client_timeout = aiohttp.ClientTimeout(total=timeout or self._timeout)
        try:
            async with self._client.request(
                method,
                url,
                retry_options=options,
                json=json_body,
                params=params,
                headers=self._headers,
                timeout=client_timeout,
            ) as response:
                raw = await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ConnectionFailed(f"{method} {url} failed: {_describe(error)}", job_id=job_id) from error
        body = _json_or_none(raw)
        if status >= 400:
            raise error_from_answer(status, body, retry_after, job_id)
        if not isinstance(body, dict):
            raise InvalidResponse(f"{method} {url} answered {status} without a JSON object", status=status)
        return Answer(body, parse_retry_after(retry_after))


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__
