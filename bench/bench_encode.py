"""The worker's bounded encoder against json.dumps: CPU time and peak traced memory, in the same run.

    .venv/bin/python bench/bench_encode.py [--repeat 5] [--baseline DIR]

Shapes: large_strings-like records (a list of dicts of 2.6 KB strings, 57 MB of JSON, as
extract returns the SheetJS large_strings workbook), small dict rows with nested lists (120,000
records of a number, a short text and a list of two), the rows of bench_extract.py's 120,000 x 20
LibreOffice sheet (whole numbers, decimals, short texts, dates as ISO text), and a list of 2 million
scalars. Time is the process's CPU time of one call, median of --repeat runs that alternate json.dumps, encode_bounded
(and the --baseline tree's encode_bounded: jobs/pool/encode.py of another checkout) so that a change
in the machine's load falls on all; the ratio is to json.dumps(...).encode(), what the worker would
otherwise do. Peak is tracemalloc's peak during one call, beyond the value itself, in MB.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.pool.encode import encode_bounded

Encoder = Callable[[Any], Any]


def shapes() -> dict[str, Any]:
    """The values encoded, built once."""
    return {
        "large_strings records": {
            "sheets": {"Sheet1": [{f"col{c}": f"{r}:{c}:" + "x" * 2600 for c in range(3)} for r in range(7173)]}
        },
        "small rows, nested lists": {
            "sheets": {"Sheet1": [{"n": r, "s": f"item-{r % 1000}", "l": [r, r + 0.5]} for r in range(120_000)]}
        },
        "LibreOffice-sheet rows": {
            "sheets": {
                "Sheet1": [
                    {f"col{c}": (r * 20, r / 7, f"item-{r % 1000}", "2024-01-01")[c % 4] for c in range(20)}
                    for r in range(120_000)
                ]
            }
        },
        "2M scalars": {"values": [r if r % 2 else f"v{r}" for r in range(2_000_000)]},
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _baseline(tree: Path) -> Encoder:
    spec = importlib.util.spec_from_file_location("baseline_encode", tree / "jobs" / "pool" / "encode.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    encode: Callable[[Any, int], Any] = module.encode_bounded
    return lambda value: encode(value, 0)


def _cpu(encoder: Encoder, value: Any) -> float:
    start = time.process_time()
    encoder(value)
    return time.process_time() - start


def _peak(encoder: Encoder, value: Any) -> float:
    tracemalloc.start()
    try:
        encoder(value)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main() -> None:
    """Print one line per shape and encoder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout whose encode_bounded runs alternately")
    args = parser.parse_args()
    encoders: dict[str, Encoder] = {"json.dumps": _dumps, "encode_bounded": lambda value: encode_bounded(value, 0)}
    if args.baseline is not None:
        encoders["baseline"] = _baseline(args.baseline)
    for name, value in shapes().items():
        size = len(_dumps(value)) / 1e6
        times: dict[str, list[float]] = {encoder: [] for encoder in encoders}
        for _ in range(args.repeat):
            for encoder, encode in encoders.items():
                times[encoder].append(_cpu(encode, value))
        reference = statistics.median(times["json.dumps"])
        print(f"{name} ({size:.1f} MB of JSON):")
        for encoder, encode in encoders.items():
            cpu = statistics.median(times[encoder])
            peak = _peak(encode, value)
            print(f"  {encoder:>15}: {cpu * 1000:7.0f} ms CPU ({cpu / reference:.2f}x), peak {peak:6.1f} MB")


if __name__ == "__main__":
    main()
