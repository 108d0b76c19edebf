"""Update of a 120,000-row x 20-column sheet written by LibreOffice, against a python-calamine read of it.

    .venv/bin/python bench/bench_update.py [--rows 120000] [--repeat 3]

The CSV is generated once and converted with `soffice --headless --convert-to xlsx`; both are cached
in bench/results/ (git-ignored). Each measurement runs in a fresh subprocess and reports the wall time
of the work and the process's peak RSS (ru_maxrss): (a) python-calamine reading the sheet's values,
(b) the update handler writing one cell and appending one row (base64 in and out included, as a job
gets it), (c) an interpreter that only imports the handler (the floor under both RSS figures).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
COLUMNS = 20

CALAMINE = """
import resource, sys, time, python_calamine
start = time.perf_counter()
rows = python_calamine.CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(rows))
"""

UPDATE = """
import base64, resource, sys, time
sys.path.insert(0, sys.argv[2])
from handlers.update import update
start = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    payload = {"excel_base64": base64.b64encode(f.read()).decode(), "updates": [
        {"sheet": "big", "cell": "C3", "value": "written"},
        {"sheet": "big", "append_rows": [["appended", 1.5, True]]},
    ]}
result = update(payload)
output = base64.b64decode(result["data"]["file"]["base64"])
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(output))
"""

IMPORT_ONLY = """
import resource, sys
sys.path.insert(0, sys.argv[2])
import python_calamine
from handlers.update import update
print(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0)
"""


def generate(rows: int) -> Path:
    """The workbook LibreOffice writes from a CSV of numbers, decimals and strings (cached)."""
    xlsx = RESULTS / f"big-{rows}.xlsx"
    if xlsx.is_file():
        return xlsx
    RESULTS.mkdir(parents=True, exist_ok=True)
    source = RESULTS / "big.csv"  # LibreOffice names the sheet after the file: "big"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"col{c}" for c in range(COLUMNS)])
        for row in range(1, rows + 1):
            writer.writerow(
                [row * COLUMNS + c if c % 3 == 0 else round((row + c) / 7, 6) if c % 3 == 1 else f"item-{row % 997}-{c}"
                 for c in range(COLUMNS)]
            )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "xlsx",
             "--outdir", str(RESULTS), str(source)],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
    (RESULTS / "big.xlsx").rename(xlsx)
    return xlsx


def measure(script: str, path: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one fresh subprocess."""
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(ROOT)], check=True, capture_output=True, text=True
    )
    seconds, peak_kb, _ = (float(value) for value in out.stdout.split())
    return seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=120_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = generate(args.rows)
    print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {args.rows} x {COLUMNS} (+ header)")
    runs: dict[str, list[tuple[float, float]]] = {"calamine": [], "update": [], "import only": []}
    for _ in range(args.repeat):  # interleaved, so a load change on the machine hits both alike
        runs["calamine"].append(measure(CALAMINE, path))
        runs["update"].append(measure(UPDATE, path))
    runs["import only"].append(measure(IMPORT_ONLY, path))
    medians = {
        name: (statistics.median(t for t, _ in r), statistics.median(m for _, m in r)) for name, r in runs.items()
    }
    for name, (seconds, peak) in medians.items():
        spread = ", ".join(f"{t:.2f}" for t, _ in runs[name])
        print(f"{name:12} {seconds:7.2f} s  (runs: {spread})  peak RSS {peak:7.0f} MB")
    (cal_t, cal_m), (upd_t, upd_m) = medians["calamine"], medians["update"]
    print(f"update / calamine: time {upd_t / cal_t:.2f}x, peak RSS {upd_m / cal_m:.2f}x")


if __name__ == "__main__":
    main()
