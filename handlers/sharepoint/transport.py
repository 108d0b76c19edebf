"""The HTTP client for Graph: allow-list checks, guarded DNS, timeouts, retries, status mapping."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from aiohttp_retry import RetryClient, RetryOptionsBase

from .errors import TransientFailure, UnexpectedResponse
from .responses import RETRYABLE_STATUSES, GraphError, Target, error_for_status
from .settings import SharePointSettings
from .urls import check_address, check_url, redacted

log = logging.getLogger(__name__)

# Backoff when Graph gives no Retry-After: 0.5 s, 1 s, 2 s ... capped, with jitter so that
# workers throttled together do not come back together.
_BACKOFF_START_SECONDS = 0.5
_BACKOFF_CAP_SECONDS = 30.0
# How long a failed call waits for its aborted connections to finish closing (see __aexit__).
_SETTLE_SECONDS = 0.05
# A driveItem or an upload session is a few KiB of JSON; 1 MiB is far past any of them, and a
# Graph (or something posing as it) that sends more is refused before it fills the worker's memory.
MAX_JSON_BYTES = 1024 * 1024
# Only the error's code and its first 300 characters of message are used.
MAX_ERROR_BODY_BYTES = 64 * 1024
_READ_CHUNK_BYTES = 64 * 1024


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses non-public addresses unless the settings allow them.

    Checking at connect time (not before) means a name cannot resolve to a public address for
    the check and to 127.0.0.1 for the connection.
    """

    def __init__(self, settings: SharePointSettings) -> None:
        self._settings = settings
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve host, raising UrlNotAllowed if any address is not public."""
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            check_address(host, result["host"], self._settings)
        return results

    async def close(self) -> None:
        """Release the wrapped resolver."""
        await self._resolver.close()


class GraphRetry(RetryOptionsBase):
    """aiohttp-retry options that honour Retry-After and stop at a total time budget.

    aiohttp-retry only bounds attempts; the budget is enforced by declaring a response final once
    the wait it asks for no longer fits. One instance per logical request: it holds the deadline.
    """

    def __init__(self, attempts: int, max_seconds: float) -> None:
        super().__init__(
            attempts=attempts,
            statuses=(),
            exceptions={aiohttp.ClientConnectionError, asyncio.TimeoutError},
            retry_all_server_errors=False,
            evaluate_response_callback=self._is_final,
        )
        self._deadline = time.monotonic() + max_seconds

    def get_timeout(self, attempt: int, response: aiohttp.ClientResponse | None = None) -> float:
        """Seconds to wait before the next attempt."""
        wait = retry_after_seconds(response) if response is not None else None
        if wait is None:
            wait = min(_BACKOFF_START_SECONDS * 2 ** (attempt - 1), _BACKOFF_CAP_SECONDS)
            wait *= random.uniform(0.5, 1.0)
        return max(0.0, min(wait, self._remaining()))

    async def _is_final(self, response: aiohttp.ClientResponse) -> bool:
        if response.status not in RETRYABLE_STATUSES or self._remaining() <= 0:
            return True
        wait = retry_after_seconds(response)
        if wait is not None and wait > self._remaining():
            return True
        # aiohttp-retry drops a response it retries without releasing it; do it here so the
        # connection goes back to the pool instead of waiting for the garbage collector.
        response.release()
        return False

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()


def retry_after_seconds(response: aiohttp.ClientResponse) -> float | None:
    """Retry-After as seconds (it may be a number or an HTTP date), or None when absent or bad."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class GraphTransport:
    """One aiohttp session for one synchronous call; opened and closed with `async with`."""

    def __init__(self, settings: SharePointSettings, token: str) -> None:
        self._settings = settings
        self._token = token
        self._session: aiohttp.ClientSession | None = None
        self._client: RetryClient | None = None

    async def __aenter__(self) -> Self:
        settings = self._settings
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(settings), use_dns_cache=False, ssl=_ssl_context(settings)
        )
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout_seconds, sock_read=settings.read_timeout_seconds
        )
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)
        self._client = RetryClient(client_session=self._session, logger=log)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if exc is not None:
            # A connection dropped mid-response (timeout, size cap) closes with a TLS close_notify
            # exchange. Giving the peer a moment to answer closes the socket now; otherwise the
            # event loop ends first and the socket is only reclaimed, with a ResourceWarning, by
            # the garbage collector.
            await asyncio.sleep(_SETTLE_SECONDS)

    @property
    def graph_url(self) -> str:
        """The versioned Graph root, e.g. https://graph.microsoft.com/v1.0."""
        return f"{self._settings.graph_base_url}/v1.0"

    @asynccontextmanager
    async def request(
        self,
        method: str,
        url: str,
        target: Target,
        *,
        authorized: bool = True,
        context: str = "",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send with retries; yield a response below 400 (redirects are not followed) or raise.

        `authorized=False` is for pre-authenticated download and upload-session URLs: the bearer
        token must never be sent to them (Graph's own guidance, and they may be on another host).
        """
        check_url(url, self._settings, context=context)
        headers = dict(headers or {})
        if authorized:
            headers["Authorization"] = f"Bearer {self._token}"
        options = GraphRetry(self._settings.retry_attempts, self._settings.retry_max_seconds)
        assert self._client is not None, "use GraphTransport in `async with`"
        log.debug("graph %s %s", method, redacted(url))
        with self._network_errors(target):
            async with self._client.request(
                method, url, retry_options=options, headers=headers, allow_redirects=False, **kwargs
            ) as response:
                if response.status >= 400:
                    body = await read_at_most(response, MAX_ERROR_BODY_BYTES)
                    raise error_for_status(
                        response.status, target, GraphError.parse(body or b""), self._retry_summary()
                    )
                yield response

    async def json(self, method: str, url: str, target: Target, **kwargs: Any) -> dict[str, Any]:
        """Send and decode a JSON object body."""
        async with self.request(method, url, target, **kwargs) as response:
            with self._network_errors(target):
                body = await read_at_most(response, MAX_JSON_BYTES)
        if body is None:
            raise UnexpectedResponse(
                f"Microsoft Graph sent an answer over {MAX_JSON_BYTES // 1024} KiB for the {target.kind}, "
                f"too large to be what was asked for: {target}"
            )
        try:
            value = _loads(body)
        except ValueError as error:
            raise UnexpectedResponse(
                f"Microsoft Graph sent an unreadable answer ({response.status}) for the {target.kind}: {target}"
            ) from error
        return value

    def _retry_summary(self) -> str:
        settings = self._settings
        return f"after up to {settings.retry_attempts} attempts within {settings.retry_max_seconds:g} s"

    @contextmanager
    def _network_errors(self, target: Target) -> Iterator[None]:
        """Map aiohttp's connection, TLS and timeout errors to TransientFailure with a plain message."""
        where = f"for the {target.kind}: {target}"
        try:
            yield
        except aiohttp.ClientSSLError as error:
            raise TransientFailure(f"Could not make a trusted TLS connection to Microsoft Graph {where}") from error
        except TimeoutError as error:
            raise TransientFailure(
                f"Microsoft Graph did not answer in time (connect timeout "
                f"{self._settings.connect_timeout_seconds:g} s, read timeout "
                f"{self._settings.read_timeout_seconds:g} s) {where}"
            ) from error
        except aiohttp.ClientError as error:
            raise TransientFailure(f"Could not talk to Microsoft Graph ({type(error).__name__}) {where}") from error


async def read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body, or None as soon as it declares or sends more than `limit` bytes (the rest is not read)."""
    if response.content_length is not None and response.content_length > limit:
        return None
    data = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK_BYTES):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def _loads(body: bytes) -> dict[str, Any]:
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _ssl_context(settings: SharePointSettings) -> ssl.SSLContext:
    # An explicit context: aiohttp would otherwise use certifi / system defaults, not the
    # configured bundle (the tests' CA, or a corporate CA).
    return ssl.create_default_context(cafile=settings.ca_bundle)
