"""Extract against a bare calamine read of a 100,000-row x 20-column sheet: time and peak memory.

    .venv/bin/python bench/bench_extract.py [--rows 100000] [--repeat 3]

Each measurement runs in a fresh subprocess (as a worker would) and reports wall time and peak RSS
(ru_maxrss). The workbook is generated once with xlsxwriter's constant_memory mode and cached in
bench/results/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import xlsxwriter

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
COLUMNS = 20

BARE = """
import resource, sys, time, python_calamine
start = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    data = f.read()
import io
rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Data").to_python()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(rows))
"""

EXTRACT = """
import base64, json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from handlers.extract import extract
with open(sys.argv[1], "rb") as f:
    payload = {"excel_base64": base64.b64encode(f.read()).decode()}
start = time.perf_counter()
result = extract(payload)
elapsed = time.perf_counter() - start
encoded = json.dumps(result)  # what the worker does with the result
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(elapsed, peak, len(result["data"]["sheets"]["Data"]["tables"][0]["rows"]), time.perf_counter() - start)
"""


def generate(path: Path, rows: int) -> None:
    """Numbers, decimals, short strings and dates, one header row."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Data")
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, [f"col{c}" for c in range(COLUMNS)])
    base = datetime.date(2024, 1, 1)
    for row in range(1, rows + 1):
        for col in range(COLUMNS):
            kind = col % 4
            if kind == 0:
                sheet.write_number(row, col, row * COLUMNS + col)
            elif kind == 1:
                sheet.write_number(row, col, (row + col) / 7)
            elif kind == 2:
                sheet.write_string(row, col, f"item-{row % 1000}-{col}")
            else:
                sheet.write_datetime(row, col, base + datetime.timedelta(days=row % 3650), date)
    book.close()


def measure(script: str, *args: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True)
    return [float(value) for value in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_{args.rows}x{COLUMNS}.xlsx"
    if not path.exists():
        print(f"generating {path.name} ...")
        generate(path, args.rows)
    bare = [measure(BARE, str(path)) for _ in range(args.repeat)]
    ours = [measure(EXTRACT, str(path), str(ROOT)) for _ in range(args.repeat)]
    best_bare = min(bare, key=lambda run: run[0])
    best_ours = min(ours, key=lambda run: run[0])
    report = {
        "rows": args.rows,
        "columns": COLUMNS,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "bare_calamine_s": round(best_bare[0], 2),
        "bare_calamine_peak_mb": round(best_bare[1] / 1024),
        "extract_s": round(best_ours[0], 2),
        "extract_plus_json_s": round(best_ours[3], 2),
        "extract_peak_mb_incl_json": round(best_ours[1] / 1024),
        "time_ratio": round(best_ours[0] / best_bare[0], 2),
        "memory_ratio": round(best_ours[1] / best_bare[1], 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
