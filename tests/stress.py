"""Run a command while other processes keep every core busy, as a loaded CI machine would.

    .venv/bin/python -m tests.stress [--burners N] -- .venv/bin/pytest -m timing --count 5

Each burner is a Python busy loop at normal priority (the service's workers run at niceness 10, so
they get far less than a core each). The command's exit code is this script's; the burners are
killed when it ends, however it ends.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence

BUSY_LOOP = "while True: pass"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.stress", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--burners", type=int, default=os.cpu_count() or 2, help="busy processes (default: one per core)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to run after --")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Start the burners, run the command, stop the burners; the command's exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    burners = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(args.burners)]
    began = time.monotonic()
    try:
        return subprocess.run(args.command, check=False).returncode
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
        print(f"stress: {args.burners} burners for {time.monotonic() - began:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
