"""Extract against a bare python-calamine read of the same file: time, peak memory and JSON size.

    .venv/bin/python bench/bench_extract.py [--repeat 3] [--min-ms 10] [--files NAME...] [--baseline DIR]

The files: every corpus workbook (../shared/corpus/xlsx and other/) on which a direct calamine read
takes at least --min-ms of CPU time, and a 120,000 x 20 sheet written by LibreOffice (generated once
from a CSV with `soffice --headless --convert-to xlsx` and cached in bench/results/). Each
measurement runs in a fresh subprocess (as a worker would) that has already imported the handler
modules, so both sides start from the same process size. The runs alternate (calamine, extract,
calamine, ...) so that a change in the machine's load falls on both. Reported per file: the median
calamine time (to_python of every worksheet), the median extract time (the handler on the base64
payload, no rules: every sheet whole), their ratio, in wall-clock time and in CPU time (the
process's own, which other load on a shared machine changes far less); the peak RSS of each
(ru_maxrss; on the extract side after the worker's encoding of the result, and before it as
"handler") and its ratio; the JSON size of the result and of the bare values (calamine's rows as
JSON lists); and the time the worker then takes to encode the result (jobs/pool/encode.py, not in
the ratio). Then the median and worst ratios. With --baseline DIR (a checkout of another commit, e.g.
from `git archive`), that tree's extract runs alternately with this one's and its ratios are
reported beside them.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CORPUS = ROOT.parent / "shared" / "corpus"
LO_ROWS, LO_COLUMNS = 120_000, 20

PRELUDE = """
import base64, io, json, resource, sys, time
sys.path.insert(0, sys.argv[2])
import python_calamine
import handlers.extract  # both sides pay the same imports, as a warmed-up worker has
from jobs.pool.encode import encode_bounded  # (the worker's package: 8 MB of RSS before any job)
with open(sys.argv[1], "rb") as f:
    data = f.read()
"""

BARE = (
    PRELUDE
    + """
start, cpu = time.perf_counter(), time.process_time()
book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
values = {}
for meta in book.sheets_metadata:
    if str(meta.typ).endswith("WorkSheet"):
        values[meta.name] = book.get_sheet_by_name(meta.name).to_python()
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
size = len(json.dumps(values, default=str))
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_kb": peak, "handler_peak_kb": peak, "json_bytes": size,
                  "encode_seconds": 0}))
"""
)

EXTRACT = (
    PRELUDE
    + """
payload = {"excel_base64": base64.b64encode(data).decode(), "file_name": sys.argv[1]}
del data
start, cpu = time.perf_counter(), time.process_time()
result = handlers.extract.extract(payload)
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
handler_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
encoded = encode_bounded(result, 0)  # what the worker does with the result
encoding = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_kb": peak, "handler_peak_kb": handler_peak,
                  "json_bytes": len(encoded), "encode_seconds": encoding}))
"""
)


def libreoffice_sheet() -> Path:
    """The 120k x 20 sheet written by LibreOffice from a generated CSV (cached)."""
    target = RESULTS / f"lo_{LO_ROWS}x{LO_COLUMNS}.xlsx"
    if target.exists():
        return target
    soffice = shutil.which("soffice")
    if soffice is None:
        sys.exit("soffice (LibreOffice) is needed once to generate the LibreOffice-written sheet")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / target.with_suffix(".csv").name
        _write_csv(source)
        subprocess.run(
            [
                *(soffice, f"-env:UserInstallation=file://{tmp}/profile", "--headless", "--norestore"),
                *("--convert-to", "xlsx", "--outdir", str(RESULTS), str(source)),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return target


def _write_csv(path: Path) -> None:
    """Whole numbers, decimals, short strings and dates; one header row."""
    rng, base = random.Random(1), datetime.date(2024, 1, 1)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow([f"col{c}" for c in range(LO_COLUMNS)])
        for row in range(1, LO_ROWS + 1):
            kinds = (row * LO_COLUMNS, round(rng.random() * 1000, 6), f"item-{row % 1000}", base.toordinal())
            out.writerow(
                [
                    (base + datetime.timedelta(days=row % 3650)).isoformat() if c % 4 == 3 else kinds[c % 4]
                    for c in range(LO_COLUMNS)
                ]
            )


def measure(script: str, path: Path, tree: Path = ROOT) -> dict[str, float]:
    command = [sys.executable, "-c", script, str(path), str(tree)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def readable(path: Path) -> bool:
    try:
        measure(BARE, path)
    except subprocess.CalledProcessError:
        return False
    try:
        measure(EXTRACT, path)
    except subprocess.CalledProcessError:
        return False
    return True


def candidates(min_ms: float, names: list[str]) -> list[Path]:
    files = [p for folder in ("xlsx", "other") for p in sorted((CORPUS / folder).glob("*")) if p.name != "MANIFEST.tsv"]
    if names:
        files = [p for p in files if p.name in names]
    chosen = []
    for path in files:
        if not readable(path):
            continue
        # Chosen on CPU time: the wall clock of a loaded machine would pick different files per run.
        if min(measure(BARE, path)["cpu_seconds"] for _ in range(2)) * 1000 >= min_ms:
            chosen.append(path)
    return chosen


def row_for(path: Path, repeat: int, baseline: Path | None) -> dict[str, object]:
    bare, ours, theirs = [], [], []
    for _ in range(repeat):  # alternating, so that the machine's drift falls on every side
        bare.append(measure(BARE, path))
        ours.append(measure(EXTRACT, path))
        if baseline is not None:
            theirs.append(measure(EXTRACT, path, baseline))
    row = _figures(path, bare, ours)
    if baseline is not None:
        before = _figures(path, bare, theirs)
        row.update({f"baseline_{key}": before[key] for key in ("extract_ms", "time_ratio", "cpu_ratio", "rss_ratio")})
    return row


def _figures(path: Path, bare: list[dict[str, float]], ours: list[dict[str, float]]) -> dict[str, object]:
    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    bare_s, ours_s = median(bare, "seconds"), median(ours, "seconds")
    bare_cpu, ours_cpu = median(bare, "cpu_seconds"), median(ours, "cpu_seconds")
    bare_kb, ours_kb = median(bare, "peak_kb"), median(ours, "peak_kb")
    return {
        "file": path.name,
        "calamine_ms": round(bare_s * 1000, 1),
        "extract_ms": round(ours_s * 1000, 1),
        "time_ratio": round(ours_s / bare_s, 2),
        "calamine_cpu_ms": round(bare_cpu * 1000, 1),
        "extract_cpu_ms": round(ours_cpu * 1000, 1),
        "cpu_ratio": round(ours_cpu / bare_cpu, 2),
        "calamine_peak_mb": round(bare_kb / 1024),
        "extract_peak_mb": round(ours_kb / 1024),
        "rss_ratio": round(ours_kb / bare_kb, 2),
        "handler_peak_mb": round(median(ours, "handler_peak_kb") / 1024),
        "handler_rss_ratio": round(median(ours, "handler_peak_kb") / bare_kb, 2),
        "json_mb": round(ours[0]["json_bytes"] / 1e6, 2),
        "values_json_mb": round(bare[0]["json_bytes"] / 1e6, 2),
        "encode_ms": round(median(ours, "encode_seconds") * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-ms", type=float, default=10.0)
    parser.add_argument("--files", nargs="*", default=[], help="only these corpus files (by name)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose extract runs alternately with this one")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    files = [*candidates(args.min_ms, args.files), libreoffice_sheet()]
    rows = []
    for path in files:
        row = row_for(path, args.repeat, args.baseline)
        # A file picked on a noisy first read but below the threshold on the median is shown, not counted.
        counted = path.parent == RESULTS or float(str(row["calamine_cpu_ms"])) >= args.min_ms
        print(json.dumps(row) + ("" if counted else "  # below --min-ms on the median: not counted"), flush=True)
        if counted:
            rows.append(row)
    summary: dict[str, object] = {"files": len(rows)}
    for key in (
        "time_ratio",
        "cpu_ratio",
        "rss_ratio",
        "handler_rss_ratio",
        *(("baseline_time_ratio", "baseline_cpu_ratio", "baseline_rss_ratio") if args.baseline else ()),
    ):
        values = [float(str(row[key])) for row in rows]
        summary[f"median_{key}"] = round(statistics.median(values), 2)
        summary[f"worst_{key}"] = max(values)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
