"""Showing a job's progress: a live bar on a terminal, plain lines anywhere else."""

from __future__ import annotations

from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from docjobs_client.models import JobSnapshot


class ProgressDisplay(Protocol):
    """Receives each change of a job, then is closed."""

    def update(self, status: JobSnapshot) -> None:
        """Show this status."""

    def close(self) -> None:
        """The job is over (or the wait was given up)."""


class SilentDisplay:
    """Shows nothing (`--quiet`)."""

    def update(self, status: JobSnapshot) -> None:
        """Show nothing."""

    def close(self) -> None:
        """Nothing to close."""


class LineDisplay:
    """One line per change, for logs and pipes: no cursor movement, no colour."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def update(self, status: JobSnapshot) -> None:
        """Print `[ 45%] running: message`."""
        print(f"[{status.progress:3d}%] {status.state}: {status.message}", file=self._stream, flush=True)

    def close(self) -> None:
        """Nothing to close."""


class BarDisplay:
    """A rich progress bar with the service's message beside it."""

    def __init__(self, stream: TextIO) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(file=stream),
            transient=False,
        )
        self._task: TaskID | None = None

    def update(self, status: JobSnapshot) -> None:
        """Move the bar and show the message."""
        description = f"{status.state}: {status.message}"
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=100)
        self._progress.update(self._task, completed=status.progress, description=description)

    def close(self) -> None:
        """Stop redrawing, leaving the last state on screen."""
        self._progress.stop()


def display_for(stream: TextIO, *, quiet: bool = False) -> ProgressDisplay:
    """The bar on a terminal, lines elsewhere, nothing when quiet."""
    if quiet:
        return SilentDisplay()
    if stream.isatty():
        return BarDisplay(stream)
    return LineDisplay(stream)
