"""The chaos soak's fault driver: injects one fault at a time, at random, into a running cluster.

Every kind is injected at least once (a shuffled round of all kinds first), then kinds are drawn at
random; the long stall of a worker instance (past the lease) only once, since each one fails the jobs
its workers held. Blocking steps (restarts, waits for a fault's duration) run in a thread, so the
clients keep running on the event loop meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum

from tests.cluster import Cluster

# Below what any real data set needs: every write that allocates is refused with OOM (noeviction).
REFUSING_MAXMEMORY = 1


class Fault(StrEnum):
    """The faults injected, by kind."""

    KILL_WORKER = "kill -9 of a worker process"
    STALL_SHORT = "SIGSTOP of a worker instance, shorter than the lease"
    STALL_LONG = "SIGSTOP of a worker instance, past the lease"
    RESTART_REDIS = "restart of redis-server (AOF)"
    PAUSE_REDIS = "SIGSTOP of redis-server for 1-5 s"
    MAXMEMORY = "CONFIG SET maxmemory 1 for 2-4 s"
    KILL_API = "kill -9 of an API instance, restarted on its port"


class FaultDriver:
    """Injects faults into `cluster` until `stop` is set; `injected` counts them by kind."""

    def __init__(self, cluster: Cluster, lease_seconds: float, rng: random.Random) -> None:
        self.cluster = cluster
        self.lease = lease_seconds
        self.rng = rng
        self.injected: Counter[Fault] = Counter()
        self.stop = asyncio.Event()

    async def run(self, gap: tuple[float, float] = (1.5, 3.5)) -> None:
        """Inject until stopped: a gap, a fault, a gap, ... (each fault is over before the next begins)."""
        first_round = list(Fault)
        self.rng.shuffle(first_round)
        while not self.stop.is_set():
            if first_round:
                fault = first_round.pop()
            else:
                fault = self.rng.choice([f for f in Fault if f is not Fault.STALL_LONG])
            try:
                await asyncio.wait_for(self.stop.wait(), self.rng.uniform(*gap))
                return
            except TimeoutError:
                pass  # the gap passed without a stop: inject
            await asyncio.to_thread(self.inject(fault))
            self.injected[fault] += 1

    def inject(self, fault: Fault) -> Callable[[], None]:
        """The blocking steps of one fault of this kind."""
        steps: dict[Fault, Callable[[], None]] = {
            Fault.KILL_WORKER: self._kill_worker,
            Fault.STALL_SHORT: lambda: self._stall(self.rng.uniform(0.2, self.lease / 2)),
            Fault.STALL_LONG: lambda: self._stall(self.lease * 1.5),
            Fault.RESTART_REDIS: self.cluster.restart_redis,
            Fault.PAUSE_REDIS: self._pause_redis,
            Fault.MAXMEMORY: self._refuse_memory,
            Fault.KILL_API: self._kill_api,
        }
        return steps[fault]

    def _kill_worker(self) -> None:
        instance = self.rng.choice(self.cluster.workers)
        pids = instance.worker_pids()
        if pids:
            _kill(self.rng.choice(pids))

    def _stall(self, seconds: float) -> None:
        instance = self.rng.choice(self.cluster.workers)
        instance.signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)  # the fault itself: the instance stays stopped this long
        finally:
            instance.signal(signal.SIGCONT)

    def _pause_redis(self) -> None:
        self.cluster.pause_redis()
        try:
            time.sleep(self.rng.uniform(1, 5))  # the fault itself: Redis answers nothing this long
        finally:
            self.cluster.resume_redis()

    def _refuse_memory(self) -> None:
        self.cluster.set_maxmemory(REFUSING_MAXMEMORY)
        try:
            time.sleep(self.rng.uniform(2, 4))  # the fault itself: Redis refuses writes this long
        finally:
            self.cluster.set_maxmemory(0)

    def _kill_api(self) -> None:
        instance = self.rng.choice(self.cluster.apis)
        instance.kill()
        instance.start()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended (or was replaced) since the listing
        os.kill(pid, signal.SIGKILL)
