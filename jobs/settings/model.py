"""The settings dataclasses: frozen, typed, with their defaults. Loading them is `jobs.settings.load`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jobs.settings.machine import available_cpus, default_worker_address_space

HANDLER_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
ENDPOINT_PATH = re.compile(r"/[A-Za-z0-9_\-/.]*[A-Za-z0-9_\-]")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the HTTP server listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Workbooks travel base64-encoded in JSON: 32 MiB holds a 24 MiB file, enough for real decks.
    max_body_bytes: int = 32 * 1024 * 1024
    trusted_proxies: tuple[str, ...] = ()
    shutdown_grace_seconds: float = 30.0
    # uvloop roughly doubles request throughput; off only where it is not installed.
    use_uvloop: bool = True
    # "all": HTTP API and workers; "api": HTTP only; "worker": runs jobs, serves only health probes.
    role: str = "all"
    # A client that trickles its request head (or body) holds a connection and a file descriptor:
    # a head is a few hundred bytes, 10 s is generous even on a poor mobile link; a 32 MiB body
    # needs 60 s at about 4.5 Mbit/s.
    request_head_timeout_seconds: float = 10.0
    request_body_timeout_seconds: float = 60.0
    # 0: derived from the soft file-descriptor limit, minus what the server itself keeps open.
    max_connections: int = 0


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """The worker processes that run handlers."""

    workers: int = 0  # 0 means one per CPU the process may use (affinity and cgroup CPU quota)
    # Recycling a worker now and then bounds the damage of handlers that leak memory.
    max_tasks_per_worker: int = 0  # 0 means never recycle
    # Workers run at a lower CPU priority so the web process stays responsive while they compute.
    niceness: int = 10
    # A worker above this resident memory is killed and its job fails; 0 means no limit.
    max_worker_rss_bytes: int = 0
    # The kernel's limit on each worker's address space (RLIMIT_AS): an allocation past it fails at once
    # ("out of memory") and the worker is replaced. -1: 75% of the machine's or the cgroup's memory
    # divided among the workers (at least 1 GiB); 0: no limit.
    max_worker_address_space_bytes: int = -1
    memory_check_interval_seconds: float = 0.5


@dataclass(frozen=True, slots=True)
class JobSettings:
    """Job lifetimes and limits."""

    timeout_seconds: float = 300.0
    retention_seconds: float = 600.0
    result_grace_seconds: float = 60.0
    cleanup_interval_seconds: float = 60.0
    per_client_limit: int = 10
    max_pending: int = 1000
    estimated_seconds: float = 30.0
    # A bigger result fails its job instead of being stored: 64 MiB of JSON is far past any deck.
    max_result_bytes: int = 64 * 1024 * 1024
    # Results held (until deleted or swept) plus the max_result_bytes each pending or running job
    # reserves at admission never pass this: a start that would is a 503 store_full. 0: a quarter of
    # the machine's or the cgroup's memory (jobs.settings.machine.default_result_budget), so that the
    # jobs in flight are bounded by what the host can hold (budget / max_result_bytes of them), not
    # by a constant: a fixed 512 MiB admitted 8 jobs of 64 MiB at a time on any machine.
    max_stored_result_bytes: int = 0
    # One client's part of that budget; 0: a quarter of it (at least four clients fit at their full
    # share), never less than one job's max_result_bytes. jobs.budget.client_share derives it.
    max_client_result_bytes: int = 0
    # Payloads of pending and running jobs (their request bodies' sizes), reserved at admission and
    # released when the job ends: 8 bodies of the 32 MiB maximum.
    max_held_payload_bytes: int = 256 * 1024 * 1024
    # One client's part of that; 0: a quarter of it, never less than one server.max_body_bytes.
    max_client_payload_bytes: int = 0
    # Long polls and event streams each hold a connection open; a few per client is plenty.
    max_watches_per_client: int = 5
    max_watches: int = 1000


@dataclass(frozen=True, slots=True)
class CorsSettings:
    """Browsers from these origins may call the API; none by default."""

    allowed_origins: tuple[str, ...] = ()
    max_age_seconds: int = 600


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """Lifecycle logs are JSON lines on standard error."""

    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where jobs live: this process's memory, or a Redis shared by every instance."""

    backend: str = "memory"
    url: str = "redis://127.0.0.1:6379/0"
    # Several deployments can share one Redis, each under its own prefix.
    prefix: str = "docjobs"
    # An instance that has not renewed its lease for this long is presumed dead; its jobs are recovered.
    lease_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """API keys: who may call, and who may see every client's jobs."""

    # (client name, key) pairs; a key may be given as "sha256:<hex digest>" so the file holds no secret.
    keys: tuple[tuple[str, str], ...] = ()
    # A TOML or JSON file with more `name = "key"` pairs: a mounted secret, kept out of config.toml.
    keys_file: str = ""
    admin: tuple[str, ...] = ()
    # Needed to listen beyond loopback without keys; the service then logs a warning at start-up.
    disabled: bool = False
    protect_metrics: bool = True
    # Client names, besides admins, whose keys may read /metrics (a Prometheus scraper): the metrics
    # show every client's activity, so an ordinary client key gets 403 there.
    metrics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """One registered endpoint: its path, its handler and its options."""

    path: str
    handler: str
    validator: str | None = None
    timeout_seconds: float | None = None
    estimated_seconds: float | None = None
    description: str = ""
    # Times a job is run again when the instance running it is lost (never after a handler error).
    retries: int = 0


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings, validated."""

    server: ServerSettings = field(default_factory=ServerSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    endpoints: tuple[EndpointSettings, ...] = ()

    @property
    def worker_count(self) -> int:
        """The pool size, with 0 resolved to the CPUs this process may use (the cgroup quota included)."""
        return self.pool.workers or available_cpus()

    @property
    def worker_address_space(self) -> int:
        """Each worker's RLIMIT_AS in bytes, with -1 resolved to its share of memory; 0 for none."""
        configured = self.pool.max_worker_address_space_bytes
        return default_worker_address_space(self.worker_count) if configured < 0 else configured

    def timeout_for(self, endpoint: EndpointSettings) -> float:
        """An endpoint's own timeout, or the default."""
        return endpoint.timeout_seconds or self.jobs.timeout_seconds
