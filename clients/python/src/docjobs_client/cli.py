"""The `docjobs` command line: `docjobs run /api/v1/extract payload.json -o out.json`."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from docjobs_client.api import DEFAULT_URL, DocjobsClient
from docjobs_client.display import display_for
from docjobs_client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    DocjobsClientError,
    InvalidResponse,
    InvalidServiceUrl,
    ServiceUnavailable,
)
from docjobs_client.follow import PollPolicy
from docjobs_client.models import StartedJob

EXIT_OK = 0
EXIT_FAILED = 1  # the job failed or expired, or the service refused the request
EXIT_USAGE = 2  # bad arguments, a service URL that is no http(s) URL, an unreadable payload (argparse uses 2 too)
EXIT_DEADLINE = 3  # the deadline passed; the job goes on and can be fetched later
EXIT_UNAVAILABLE = 4  # the service could not be reached or kept failing
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports a command it interrupted


class UsageError(Exception):
    """A problem with the command's own input, reported with exit status 2."""


@dataclass(slots=True)
class Started:
    """The job `run` started, once the service named it: what Ctrl-C reports."""

    job_id: str | None = None

    def record(self, job: StartedJob) -> None:
        """Remember the job the service accepted."""
        self.job_id = job.job_id


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The parser; the URL and key default to DOCJOBS_URL and DOCJOBS_API_KEY."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=environ.get("DOCJOBS_URL") or DEFAULT_URL, help="the service ($DOCJOBS_URL)")
    common.add_argument("--api-key", default=environ.get("DOCJOBS_API_KEY"), help="API key ($DOCJOBS_API_KEY)")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser = argparse.ArgumentParser(prog="docjobs", description="Run docjobs jobs from the shell.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[common], help="start a job, show its progress, write its result")
    run.add_argument("endpoint", help="e.g. /api/v1/extract")
    run.add_argument("payload", help="JSON payload file, or - for standard input")
    run.add_argument("-o", "--output", type=Path, help="write the result JSON here (default: standard output)")
    run.add_argument("--deadline", type=float, default=3600.0, help="give up waiting after this many seconds")
    run.add_argument("--no-long-poll", action="store_true", help="poll at intervals instead of long polls")

    status = commands.add_parser("status", parents=[common], help="print a job's status")
    status.add_argument("job_id")
    status.add_argument("--wait", type=float, help="hold until the job changes (at most 30 s)")

    result = commands.add_parser("result", parents=[common], help="write a finished job's result")
    result.add_argument("job_id")
    result.add_argument("-o", "--output", type=Path, help="write the result JSON here (default: standard output)")

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a job")
    cancel.add_argument("job_id")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; the exit status says how it went (see EXIT_*)."""
    args = build_parser(os.environ if environ is None else environ).parse_args(argv)
    started = Started()
    try:
        return asyncio.run(_dispatch(args, started))
    except KeyboardInterrupt:
        # asyncio.run has cancelled the command and closed the session: the job itself goes on.
        print(f"docjobs: {_interrupted(args, started.job_id)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as error:
        print(f"docjobs: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DocjobsClientError as error:
        print(f"docjobs: {_explain(error, args)}", file=sys.stderr)
        return _exit_status(error)


async def _dispatch(args: argparse.Namespace, started: Started) -> int:
    async with DocjobsClient(args.url, args.api_key) as client:
        if args.command == "run":
            return await _run(client, args, started)
        if args.command == "status":
            status = await client.status(args.job_id, wait=args.wait)
            _print_json(status.raw, sys.stdout)
        elif args.command == "result":
            _write_result(await client.result(args.job_id), args.output, quiet=args.quiet)
        else:
            _print_json(await client.cancel(args.job_id), sys.stdout)
        return EXIT_OK


async def _run(client: DocjobsClient, args: argparse.Namespace, started: Started) -> int:
    payload = _read_payload(args.payload)
    display = display_for(sys.stderr, quiet=args.quiet)
    try:
        result = await client.run(
            args.endpoint,
            payload,
            on_progress=display.update,
            on_start=started.record,
            deadline=args.deadline,
            policy=PollPolicy(long_poll=not args.no_long_poll),
        )
    finally:
        display.close()
    _write_result(result, args.output, quiet=args.quiet)
    return EXIT_OK


def _read_payload(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as error:
        raise UsageError(f"cannot read the payload file: {error}") from None
    except ValueError as error:
        raise UsageError(f"the payload is not valid JSON: {error}") from None


def _write_result(result: dict[str, Any], output: Path | None, *, quiet: bool) -> None:
    if output is None:
        _print_json(result, sys.stdout)
    else:
        output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    saved = _save_file(result, output.parent if output is not None else Path.cwd())
    if saved is not None and not quiet:
        print(f"docjobs: wrote {saved} ({saved.stat().st_size} bytes)", file=sys.stderr)


def _save_file(result: dict[str, Any], folder: Path) -> Path | None:
    """Decode the handler's output file (`data.file` = {name, base64}) into `folder`."""
    data = result.get("data")
    file = data.get("file") if isinstance(data, dict) else None
    if not isinstance(file, dict) or not isinstance(file.get("base64"), str):
        return None
    # Only the last path component, so a name from the service cannot write outside `folder`.
    name = Path(str(file.get("name") or "")).name
    if not name or name.startswith("."):
        name = "output.bin"
    try:
        content = base64.b64decode(file["base64"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidResponse(f"the result's file {name!r} is not valid base64") from None
    target = folder / name
    target.write_bytes(content)
    return target


def _print_json(data: Any, stream: TextIO) -> None:
    stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    stream.flush()


def _explain(error: DocjobsClientError, args: argparse.Namespace) -> str:
    if isinstance(error, DeadlineExceeded) and error.job_id:
        return f"{error.message}; the job goes on.\n{_follow_up(args, error.job_id)}"
    if isinstance(error, InvalidServiceUrl):
        return f"{error.message} (from --url or DOCJOBS_URL)"
    job = f" (job {error.job_id})" if error.job_id else ""
    return f"{error.code}: {error.message}{job}"


def _interrupted(args: argparse.Namespace, job_id: str | None) -> str:
    if args.command != "run":
        return "interrupted"
    if job_id is None:
        # The start request may have reached the service without its answer reaching us.
        return "interrupted before the service named the job; if it was started, it runs on"
    return f"interrupted; job {job_id} goes on in the service.\n{_follow_up(args, job_id)}"


def _follow_up(args: argparse.Namespace, job_id: str) -> str:
    """The exact commands that fetch, follow or cancel the job (the API key is never echoed)."""
    where = [] if args.url == DEFAULT_URL else ["--url", args.url]
    output = ["-o", str(args.output)] if getattr(args, "output", None) else []
    commands = (
        ("fetch its result", ["result", job_id, *output]),
        ("follow it", ["status", job_id, "--wait", "25"]),
        ("cancel it", ["cancel", job_id]),
    )
    return "\n".join(f"  {what + ':':<18}{shlex.join(['docjobs', *words, *where])}" for what, words in commands)


def _exit_status(error: DocjobsClientError) -> int:
    if isinstance(error, InvalidServiceUrl):
        return EXIT_USAGE
    if isinstance(error, DeadlineExceeded):
        return EXIT_DEADLINE
    if isinstance(error, ConnectionFailed | ServiceUnavailable | InvalidResponse):
        return EXIT_UNAVAILABLE
    return EXIT_FAILED
