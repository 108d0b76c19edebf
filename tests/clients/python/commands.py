"""Running the installed `docjobs` console script as a user would: from a folder outside the repository."""

from __future__ import annotations

import os
import pty
import queue
import select
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest


def docjobs_script() -> Path:
    """The `docjobs` script that `pip install -e ./clients/python` put beside this Python."""
    script = Path(sys.executable).parent / "docjobs"
    if not script.is_file():
        pytest.fail(f"{script} is missing: run `{sys.executable} -m pip install -e ./clients/python`")
    return script


def user_env(url: str, **extra: str) -> dict[str, str]:
    """The environment without PYTHONPATH: the script must find its package as installed, not via the repo."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOCJOBS_URL", "DOCJOBS_API_KEY")}
    return {**env, "DOCJOBS_URL": url, **extra}


def docjobs(
    url: str, *args: str, cwd: Path, stdin: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `docjobs ARGS` in `cwd` against `url` and wait for it."""
    return subprocess.run(
        [str(docjobs_script()), *args],
        cwd=cwd,
        env=dict(env) if env is not None else user_env(url),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed_commands(stderr: str) -> dict[str, str]:
    """The follow-up commands the CLI printed, by what they do: `{"cancel it": "docjobs cancel ..."}`."""
    commands = {}
    for line in stderr.splitlines():
        what, colon, command = line.partition(":")
        if line.startswith("  ") and colon and command.strip().startswith("docjobs "):
            commands[what.strip()] = command.strip()
    return commands


def run_printed(command: str, *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command exactly as printed, without DOCJOBS_URL: whatever it needs must be on its line."""
    words = shlex.split(command)
    assert words[0] == "docjobs", command
    env = {k: v for k, v in user_env("").items() if k != "DOCJOBS_URL"}
    return subprocess.run(
        [str(docjobs_script()), *words[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


# The child starts with SIGINT at its default even if this test runner's process ignores it (a runner
# started in the background by a shell does): an ignored SIGINT stays ignored across exec, and Python
# then never raises KeyboardInterrupt.
SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


class LiveCommand:
    """`docjobs ARGS` running in the background, its standard error read line by line as it comes."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        script = str(docjobs_script())
        self.process = subprocess.Popen(
            [sys.executable, "-c", SIGINT_DEFAULT, script, *args],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, starts_with: str, timeout: float = 30) -> str:
        """The first standard-error line starting with `starts_with`; fails at the deadline or at exit."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"docjobs ended before printing {starts_with!r}: {self.lines}")
            self.lines.append(line)
            if line.startswith(starts_with):
                return line
        pytest.fail(f"no line starting with {starts_with!r} within {timeout} s: {self.lines}")

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        """Wait for the exit: the exit status, standard output and all of standard error."""
        # Waiting before reading is safe: what the CLI prints to standard output is far below a pipe's buffer.
        code = self.process.wait(timeout=timeout)
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()
        self._reader.join(timeout)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        return code, stdout, "\n".join(self.lines)

    def __enter__(self) -> LiveCommand:
        return self

    def __exit__(self, *exc: object) -> None:
        """Kill the process if a failed assertion left it running, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


class TerminalCommand:
    """`docjobs ARGS` with its standard error on a pseudo-terminal, as in an interactive shell."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        leader, follower = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SIGINT_DEFAULT, str(docjobs_script()), *args],
            cwd=cwd,
            env={**env, "COLUMNS": "100"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        os.close(follower)
        self._leader = leader
        self.screen = b""

    def read_until(self, marker: bytes | None, timeout: float = 30) -> str:
        """What the terminal showed until `marker` appeared (None: until the process closed it)."""
        deadline = time.monotonic() + timeout
        while marker is None or marker not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"{marker!r} not shown within {timeout} s: {self.screen[-500:]!r}")
            if not select.select([self._leader], [], [], remaining)[0]:
                continue
            try:
                chunk = os.read(self._leader, 4096)
            except OSError:  # the terminal closed with the process
                chunk = b""
            if not chunk:
                if marker is None:
                    break
                pytest.fail(f"docjobs ended before showing {marker!r}: {self.screen[-500:]!r}")
            self.screen += chunk
        return self.screen.decode(errors="replace")

    def __enter__(self) -> TerminalCommand:
        return self

    def __exit__(self, *exc: object) -> None:
        """Kill the process if a failed assertion left it running, and close the terminal."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        os.close(self._leader)
