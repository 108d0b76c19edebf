"""The command line: `python -m jobs.client run /api/v1/extract payload.json -o out.json`."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from jobs.client.api import DEFAULT_URL, DocjobsClient
from jobs.client.display import display_for
from jobs.client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    DocjobsClientError,
    InvalidResponse,
    ServiceUnavailable,
)
from jobs.client.follow import PollPolicy

EXIT_OK = 0
EXIT_FAILED = 1  # the job failed or expired, or the service refused the request
EXIT_USAGE = 2  # bad arguments or an unreadable payload file (argparse uses 2 too)
EXIT_DEADLINE = 3  # the deadline passed; the job goes on and can be fetched later
EXIT_UNAVAILABLE = 4  # the service could not be reached or kept failing


class UsageError(Exception):
    """A problem with the command's own input, reported with exit status 2."""


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The parser; the URL and key default to DOCJOBS_URL and DOCJOBS_API_KEY."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=environ.get("DOCJOBS_URL") or DEFAULT_URL, help="the service ($DOCJOBS_URL)")
    common.add_argument("--api-key", default=environ.get("DOCJOBS_API_KEY"), help="API key ($DOCJOBS_API_KEY)")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser = argparse.ArgumentParser(prog="python -m jobs.client", description="Run docjobs jobs from the shell.")
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
    try:
        return asyncio.run(_dispatch(args))
    except UsageError as error:
        print(f"docjobs: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DocjobsClientError as error:
        print(f"docjobs: {_explain(error)}", file=sys.stderr)
        return _exit_status(error)


async def _dispatch(args: argparse.Namespace) -> int:
    async with DocjobsClient(args.url, args.api_key) as client:
        if args.command == "run":
            return await _run(client, args)
        if args.command == "status":
            status = await client.status(args.job_id, wait=args.wait)
            _print_json(status.raw, sys.stdout)
        elif args.command == "result":
            _write_result(await client.result(args.job_id), args.output, quiet=args.quiet)
        else:
            _print_json(await client.cancel(args.job_id), sys.stdout)
        return EXIT_OK


async def _run(client: DocjobsClient, args: argparse.Namespace) -> int:
    payload = _read_payload(args.payload)
    display = display_for(sys.stderr, quiet=args.quiet)
    try:
        result = await client.run(
            args.endpoint,
            payload,
            on_progress=display.update,
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


def _explain(error: DocjobsClientError) -> str:
    job = f" (job {error.job_id})" if error.job_id else ""
    if isinstance(error, DeadlineExceeded) and error.job_id:
        return (
            f"{error.message}; the job goes on: "
            f"`python -m jobs.client result {error.job_id}` later, or `cancel {error.job_id}`"
        )
    return f"{error.code}: {error.message}{job}"


def _exit_status(error: DocjobsClientError) -> int:
    if isinstance(error, DeadlineExceeded):
        return EXIT_DEADLINE
    if isinstance(error, ConnectionFailed | ServiceUnavailable | InvalidResponse):
        return EXIT_UNAVAILABLE
    return EXIT_FAILED
