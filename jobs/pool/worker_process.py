"""One worker process as the pool sees it, and the watch that stops workers over their memory limit."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from socket import socket as SocketType

from jobs.pool.executor import Task
from jobs.pool.group import group_rss
from jobs.pool.pipe import FramedPipe
from jobs.settings import PoolSettings

log = logging.getLogger("docjobs.pool")


@dataclass(eq=False)
class WorkerProcess:
    """One worker: its process, its end of the pipe, and the tasks sent to it, in order."""

    process: BaseProcess
    socket: socket.socket
    pipe: FramedPipe | None = None
    stderr: SocketType | None = None  # the worker's fd 2, read by a StderrLines protocol
    stderr_transport: asyncio.BaseTransport | None = None
    tasks: deque[Task] = field(default_factory=deque)
    exited: bool = False
    kill_detail: str = ""

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid


async def watch_memory(
    workers: Callable[[], list[WorkerProcess]], options: PoolSettings, kill: Callable[[WorkerProcess], None]
) -> None:
    """Kill any worker whose resident memory passes the limit; its running job fails saying so."""
    limit = options.max_worker_rss_bytes
    while True:
        await asyncio.sleep(options.memory_check_interval_seconds)
        for worker in workers():
            rss = group_rss(worker.pid)  # the handler's own children count against its limit
            if rss is None or rss <= limit or worker.exited:
                continue
            worker.kill_detail = f"{rss / 1048576:.1f} MiB used, limit {limit / 1048576:.1f} MiB"
            if worker.tasks and worker.tasks[0].started_at is not None:
                worker.tasks[0].kill_reason = "memory"
            log.warning("worker %d over its memory limit (%s); stopping it", worker.pid, worker.kill_detail)
            kill(worker)
