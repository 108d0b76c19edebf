"""The .xlsb/.ods/.xls size pre-checks against a bare python-calamine read of the same file.

    .venv/bin/python bench/bench_area_formats.py [--repeat 5] FILE...

For each file (an .ods, .xls or .xlsb; LibreOffice writes the first two from a CSV with
`soffice --headless --convert-to ods big.csv`), alternately in the same process: the pre-check
(handlers.xlsx.area.check_before_opening, from the bytes, zip opened as extract opens it) and a
calamine read (open the workbook, to_python of every sheet). Prints the median of each and the
ratio of the pre-check to the read; the machine drifts, so only the ratio in one run means anything.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from python_calamine import CalamineWorkbook

from handlers.xlsx.area import check_before_opening
from handlers.xlsx.formats import detect, is_zip, zip_format


def precheck(data: bytes) -> None:
    archive = zipfile.ZipFile(io.BytesIO(data)) if is_zip(data) else None
    kind = detect(data, "bench") if archive is None else zip_format(archive, "bench")
    check_before_opening(kind, data, archive, 30_000_000)


def calamine_read(data: bytes) -> None:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    print(f"{'file':<40} {'pre-check ms':>12} {'calamine ms':>12} {'ratio':>6}")
    for path in args.files:
        data = path.read_bytes()
        times: dict[str, list[float]] = {"check": [], "read": []}
        for _ in range(args.repeat):  # alternate A/B: drift hits both sides alike
            for label, step in (("check", precheck), ("read", calamine_read)):
                start = time.perf_counter()
                step(data)
                times[label].append((time.perf_counter() - start) * 1000)
        check, read = statistics.median(times["check"]), statistics.median(times["read"])
        print(f"{path.name:<40} {check:>12.1f} {read:>12.1f} {check / read:>6.2f}")


if __name__ == "__main__":
    main()
