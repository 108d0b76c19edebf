"""Validation of settings: every mistake found, each with a message that says what to change."""

from __future__ import annotations

import ipaddress
import re
import typing

from jobs.errors import ConfigError
from jobs.settings.model import (
    ENDPOINT_PATH,
    HANDLER_REF,
    LOG_LEVELS,
    AuthSettings,
    EndpointSettings,
    JobSettings,
    ServerSettings,
    Settings,
    StoreSettings,
)


def validate(settings: Settings) -> None:
    """Check every value; one clear message per mistake, all of them at once."""
    problems = list(_section_problems(settings))
    problems.extend(_endpoint_problems(settings.endpoints))
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def _section_problems(settings: Settings) -> typing.Iterator[str]:
    yield from _server_problems(settings.server)
    if settings.pool.workers < 0 or settings.pool.max_tasks_per_worker < 0:
        yield "pool.workers and pool.max_tasks_per_worker must not be negative"
    if not 0 <= settings.pool.niceness <= 19:
        yield "pool.niceness must be between 0 and 19"
    if settings.pool.max_worker_address_space_bytes < -1:
        yield "pool.max_worker_address_space_bytes must be -1 (derived), 0 (no limit) or a number of bytes"
    if settings.pool.max_worker_rss_bytes < 0 or settings.pool.memory_check_interval_seconds <= 0:
        yield "pool.max_worker_rss_bytes must not be negative; pool.memory_check_interval_seconds must be positive"
    yield from _job_problems(settings.jobs)
    for origin in settings.cors.allowed_origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            yield f"cors.allowed_origins: {origin!r} must look like https://host[:port] with no path"
    if settings.logging.level.upper() not in LOG_LEVELS:
        yield f"logging.level must be one of {', '.join(LOG_LEVELS)}"
    yield from _auth_problems(settings.auth, settings.server.host)
    yield from _store_problems(settings.store, settings.server.role)


ROLES = ("all", "api", "worker")


def _store_problems(store: StoreSettings, role: str) -> typing.Iterator[str]:
    if store.backend not in ("memory", "redis"):
        yield f"store.backend must be memory or redis, not {store.backend!r}"
    if role not in ROLES:
        yield f"server.role must be one of {', '.join(ROLES)}, not {role!r}"
    elif role != "all" and store.backend != "redis":
        yield f'server.role {role!r} needs store.backend = "redis": in-memory jobs cannot be shared'
    if store.backend == "redis" and not store.url.startswith(("redis://", "rediss://", "unix://")):
        yield "store.url must start with redis://, rediss:// or unix://"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", store.prefix):
        yield "store.prefix must be 1-64 letters, digits, or _ . : -"
    if store.lease_seconds < 1:
        yield "store.lease_seconds must be at least 1"


def _auth_problems(auth: AuthSettings, host: str) -> typing.Iterator[str]:
    names = {name for name, _ in auth.keys}
    for name, key in auth.keys:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
            yield f"auth.keys: client name {name!r} must be 1-64 letters, digits, or _ . @ -"
        if key.startswith("sha256:"):
            if not re.fullmatch(r"[0-9a-f]{64}", key[7:]):
                yield f"auth.keys.{name}: a sha256: key must be followed by 64 lowercase hex digits"
        elif len(key) < 16 or not re.fullmatch(r"[\x21-\x7e]+", key):
            yield f"auth.keys.{name}: a key must be at least 16 visible ASCII characters, no spaces"
    for section, listed in (("admin", auth.admin), ("metrics", auth.metrics)):
        for name in listed:
            if name not in names:
                yield f"auth.{section}: {name!r} has no key in auth.keys"
    if not auth.keys and not auth.disabled and not _is_loopback(host):
        yield (
            f"server.host {host!r} is reachable from other machines but no API keys are configured: "
            "set auth.keys (or auth.keys_file), or auth.disabled = true to run without authentication"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _server_problems(server: ServerSettings) -> typing.Iterator[str]:
    if not 0 <= server.port <= 65535:
        yield f"server.port must be between 0 and 65535, not {server.port}"
    if server.max_body_bytes < 1024:
        yield "server.max_body_bytes must be at least 1024"
    if server.shutdown_grace_seconds < 0:
        yield "server.shutdown_grace_seconds must not be negative"
    if server.request_head_timeout_seconds <= 0 or server.request_body_timeout_seconds <= 0:
        yield "server.request_head_timeout_seconds and server.request_body_timeout_seconds must be positive"
    if server.max_connections < 0:
        yield "server.max_connections must not be negative (0 derives it from the file-descriptor limit)"
    for proxy in server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            yield f"server.trusted_proxies: {proxy!r} is not an IP address or network"


def _job_problems(jobs: JobSettings) -> typing.Iterator[str]:
    for key in ("timeout_seconds", "retention_seconds", "cleanup_interval_seconds", "estimated_seconds"):
        if getattr(jobs, key) <= 0:
            yield f"jobs.{key} must be positive"
    if jobs.result_grace_seconds < 0:
        yield "jobs.result_grace_seconds must not be negative"
    if jobs.per_client_limit < 1 or jobs.max_pending < 1:
        yield "jobs.per_client_limit and jobs.max_pending must be at least 1"
    if jobs.max_result_bytes < 1 or jobs.max_held_payload_bytes < 1:
        yield "jobs.max_result_bytes and jobs.max_held_payload_bytes must be at least 1"
    if jobs.max_stored_result_bytes < 0 or jobs.max_client_result_bytes < 0 or jobs.max_client_payload_bytes < 0:
        yield (
            "jobs.max_stored_result_bytes, jobs.max_client_result_bytes and jobs.max_client_payload_bytes "
            "must not be negative (0 derives them)"
        )
    # Every job reserves max_result_bytes at admission: a smaller budget or share would refuse every start.
    for key in ("max_stored_result_bytes", "max_client_result_bytes"):
        if 0 < getattr(jobs, key) < jobs.max_result_bytes:
            yield f"jobs.{key} must be at least jobs.max_result_bytes, which every job reserves"
    if jobs.max_watches_per_client < 1 or jobs.max_watches < 1:
        yield "jobs.max_watches_per_client and jobs.max_watches must be at least 1"


def _endpoint_problems(endpoints: tuple[EndpointSettings, ...]) -> typing.Iterator[str]:
    for endpoint in endpoints:
        name = f"endpoints.{endpoint.path!r}"
        if not ENDPOINT_PATH.fullmatch(endpoint.path) or "//" in endpoint.path or ".." in endpoint.path:
            yield f"{name}: the path must start with / and hold only letters, digits, -, _, . and /"
        if endpoint.path.startswith("/api/v1/jobs"):
            yield f"{name}: paths under /api/v1/jobs belong to the jobs API"
        for key in ("handler", "validator"):
            ref = getattr(endpoint, key)
            if ref is not None and not HANDLER_REF.fullmatch(ref):
                yield f'{name}.{key}: {ref!r} must look like "package.module:function"'
        for key in ("timeout_seconds", "estimated_seconds"):
            value = getattr(endpoint, key)
            if value is not None and value <= 0:
                yield f"{name}.{key} must be positive"
        if not 0 <= endpoint.retries <= 10:
            yield f"{name}.retries must be between 0 and 10"
