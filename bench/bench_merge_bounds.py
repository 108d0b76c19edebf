"""Merge templates that ask for far more than their request holds: worker time and peak memory.

    .venv/bin/python bench/bench_merge_bounds.py [--repeat 3]

Each case runs the merge handler in a fresh subprocess (as a worker would) and prints its outcome,
wall time and peak RSS (ru_maxrss), with the ratio to a plain merge of the same deck measured in the
same run. Without the bounds, the format-width case builds a 200-million-character string (about
800 MiB of worker memory through lxml) and the repeated-value case 34 MB of text per paragraph edit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASE = """
import base64, io, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pptx import Presentation
from handlers.common.errors import HandlerError
from handlers.merge import merge
title, data = sys.argv[2], json.loads(sys.argv[3])
deck = Presentation()
deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = title
out = io.BytesIO()
deck.save(out)
payload = {"template_base64": base64.b64encode(out.getvalue()).decode(), "data": data}
start = time.perf_counter()
try:
    merge(payload)
    outcome = "merged"
except HandlerError as error:
    outcome = str(error)[:70]
elapsed = time.perf_counter() - start
print(json.dumps([outcome, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(json.dumps(payload))]))
"""

CASES = {
    "plain merge (reference)": ("Report for {{client}}", {"key_value_pairs": {"client": "ACME"}}),
    "format width {{client|200000000}}": ("{{client|200000000}}", {"key_value_pairs": {"client": "ACME"}}),
    "10 KB value x 3,400 placeholders": ("{{big}}" * 3_400, {"key_value_pairs": {"big": "x" * 10_000}}),
}


def measure(title: str, data: object) -> tuple[str, float, int, int]:
    """One fresh-process run: outcome, seconds, peak RSS in KiB, request size in bytes."""
    answer = subprocess.run(
        [sys.executable, "-c", CASE, str(ROOT), title, json.dumps(data)], capture_output=True, text=True, check=True
    )
    outcome, seconds, peak, size = json.loads(answer.stdout.strip().splitlines()[-1])
    return outcome, seconds, peak, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median is printed")
    args = parser.parse_args()
    reference: tuple[float, float] | None = None
    print(f"{'case':36} {'request':>9} {'time':>8} {'peak RSS':>9} {'x ref':>6}  outcome")
    for name, (title, data) in CASES.items():
        runs = [measure(title, data) for _ in range(args.repeat)]
        seconds = statistics.median(run[1] for run in runs)
        peak_mib = statistics.median(run[2] for run in runs) / 1024
        reference = reference or (seconds, peak_mib)
        print(
            f"{name:36} {runs[0][3] / 1024:7.1f}KB {seconds * 1000:6.0f}ms {peak_mib:7.1f}MB "
            f"{peak_mib / reference[1]:6.2f}  {runs[0][0]}"
        )


if __name__ == "__main__":
    main()
