"""A worker's memory, as the RSS watch counts it: its whole tree but its watcher, read from its tree alone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from jobs.pool.group import WATCHER_MARK, group_rss
from tests.waiting import wait_until

# A parent that starts a child holding 40 MB and a grandchild, and a stand-in for the group watcher
# (a child whose command line carries the watcher's mark), then prints "ready". Each of them lives until
# its standard input, the test's pipe, which they all share, reaches its end: when the test closes it.
UNTIL_RELEASED = "import sys; sys.stdin.buffer.read()"
TREE = f"""
import subprocess, sys
hold = "x = bytearray(40_000_000); import subprocess, sys; "
hold += "subprocess.Popen([sys.executable, '-c', {UNTIL_RELEASED!r}]); " + {UNTIL_RELEASED!r}
subprocess.Popen([sys.executable, "-c", hold])
subprocess.Popen([sys.executable, "-c", "y = bytearray(30_000_000); " + {UNTIL_RELEASED!r}, "{WATCHER_MARK}"])
print("ready", flush=True)
{UNTIL_RELEASED}
"""


@pytest.fixture
def tree() -> Iterator[psutil.Process]:
    parent = subprocess.Popen([sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert parent.stdin is not None and parent.stdout is not None
    assert parent.stdout.readline() == b"ready\n"
    root = psutil.Process(parent.pid)
    try:
        wait_until(lambda: len(root.children(recursive=True)) == 3, 10, "the child, grandchild and watcher to start")
        yield root
    finally:
        descendants = root.children(recursive=True)
        parent.stdin.close()  # every one of them reads its end now and exits
        parent.wait(timeout=10)
        parent.stdout.close()
        wait_until(lambda: not any(map(_lives, descendants)), 10, "the tree to exit")


def _lives(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_the_tree_counts_without_the_watcher(tree: psutil.Process) -> None:
    others = [p for p in tree.children(recursive=True) if WATCHER_MARK not in p.cmdline()]
    assert len(others) == 2  # the child and the grandchild; not the watcher
    wait_until(lambda: (group_rss(tree.pid) or 0) > 40_000_000, 10, "the child's 40 MB to be resident")
    expected = tree.memory_info().rss + sum(p.memory_info().rss for p in others)
    assert group_rss(tree.pid) == pytest.approx(expected, rel=0.05)  # psutil's rss, the same pages


def test_only_the_workers_own_tree_is_read(tree: psutil.Process, monkeypatch: pytest.MonkeyPatch) -> None:
    # Listing /proc means reading every process of the machine, on the event loop, twice a second.
    listdir = os.listdir

    def no_proc_scan(path: str | bytes = ".") -> list[Any]:
        if os.fsdecode(path).rstrip("/") == "/proc":
            raise AssertionError("group_rss listed every process")
        return listdir(path)

    monkeypatch.setattr(os, "listdir", no_proc_scan)
    assert (group_rss(tree.pid) or 0) > 40_000_000


def test_a_gone_worker_has_no_memory() -> None:
    gone = max(psutil.pids()) + 100_000  # beyond any live pid
    assert group_rss(gone) is None
