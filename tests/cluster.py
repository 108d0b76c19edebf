"""A cluster for tests: one private redis-server and several `server.py` instances with roles on it.

Each instance can be stopped, killed, stalled (SIGSTOP) and restarted on its own port, and Redis can be
restarted (keeping its data with `appendonly`), paused, or refused memory, so a test injects faults on
real processes. `running_cluster` starts it all and stops it all, whatever state a test left it in.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from redis import Redis

from tests.process import ServerProcess, free_port, start_server, stop_process
from tests.store.redis_server import RedisServer, redis_server_binary


@dataclass
class Instance:
    """One server.py of the cluster: its role and port stay the same across restarts."""

    role: str
    port: int
    config: Path
    env: dict[str, str]
    workdir: Path
    server: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.live.process.pid

    @property
    def live(self) -> ServerProcess:
        assert self.server is not None, f"the {self.role} instance on port {self.port} is not running"
        return self.server

    def start(self) -> None:
        """Start it (again) on its port and wait until it answers."""
        args = ["--config", str(self.config), "--port", str(self.port), "--role", self.role]
        self.server = start_server(self.workdir, args=args, env=self.env, port=self.port)

    def stop(self) -> None:
        """SIGTERM (after SIGCONT, in case it is stopped), then SIGKILL if it lingers."""
        if self.server is not None:
            with contextlib.suppress(ProcessLookupError):
                self.server.process.send_signal(signal.SIGCONT)
            stop_process(self.server.process, timeout=20)

    def kill(self) -> None:
        """kill -9, as the OOM killer or a lost machine would, and reap it."""
        self.live.process.kill()
        self.live.process.wait(timeout=10)

    def signal(self, signum: int) -> None:
        self.live.process.send_signal(signum)

    def worker_pids(self) -> list[int]:
        """Its pool's worker processes (server -> forkserver -> workers), group watchers excepted."""
        try:
            descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return []
        pids = []
        for process in descendants:
            with contextlib.suppress(psutil.Error):
                parent = process.parent()
                if parent is not None and parent.pid != self.pid and parent.ppid() == self.pid:
                    pids.append(process.pid)
        return pids

    def logs(self) -> str:
        return self.live.logs()


@dataclass
class Cluster:
    """The Redis and the instances, in the order of the roles they were started with."""

    redis: RedisServer
    instances: list[Instance]
    paused: bool = field(default=False)

    @property
    def apis(self) -> list[Instance]:
        return [i for i in self.instances if i.role in ("api", "all")]

    @property
    def workers(self) -> list[Instance]:
        return [i for i in self.instances if i.role in ("worker", "all")]

    def client(self) -> Redis:
        """A plain (blocking) client of the cluster's Redis, for admin commands."""
        return Redis(port=self.redis.port, socket_timeout=5)

    def restart_redis(self) -> None:
        """Stop redis-server (SIGTERM: with appendonly it writes its file first) and start it again."""
        self.resume_redis()
        self.redis.stop()
        self.redis.start(timeout=30)

    def pause_redis(self) -> None:
        """SIGSTOP redis-server: connections stay open but nothing answers."""
        assert self.redis.process is not None
        self.redis.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume_redis(self) -> None:
        if self.paused and self.redis.process is not None:
            self.redis.process.send_signal(signal.SIGCONT)
        self.paused = False

    def set_maxmemory(self, limit: int) -> None:
        """CONFIG SET maxmemory (0: no limit); 1 byte makes Redis refuse every write that allocates."""
        with self.client() as client:
            client.config_set("maxmemory", limit)

    def stop(self) -> None:
        """Stop every instance (all told at once, so their graces overlap), then Redis."""
        self.resume_redis()
        running = [i.server.process for i in self.instances if i.server is not None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in running:
            stop_process(process, timeout=20)
        self.redis.stop()


@contextlib.contextmanager
def running_cluster(
    workdir: Path, config: str, roles: Sequence[str], *, appendonly: bool = False, prefix: str = "c"
) -> Iterator[Cluster]:
    """Start a Redis and one instance per role (in order) on it; stop them all when the block ends."""
    redis_server = RedisServer(redis_server_binary(), workdir, appendonly=appendonly)
    redis_server.start()
    config_path = workdir / "cluster.toml"
    config_path.write_text(config, encoding="utf-8")
    env = {"DOCJOBS_STORE_URL": redis_server.url, "DOCJOBS_STORE_PREFIX": f"{prefix}{os.getpid()}"}
    cluster = Cluster(redis_server, [Instance(role, free_port(), config_path, env, workdir) for role in roles])
    try:
        for instance in cluster.instances:
            instance.start()
        yield cluster
    finally:
        cluster.stop()
