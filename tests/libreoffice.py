"""LibreOffice, headless, as an independent reader of what docjobs writes.

Starting soffice costs seconds, so every conversion is batched: one run converts many files. Each run
gets its own user profile, so parallel runs (and a desktop session) never share a lock.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.external_tools import require_program

# A generous bound for one batch: soffice converts a small document in well under a second, but
# a cold start on a loaded 2-core machine has been seen to take 20 s.
BATCH_TIMEOUT_SECONDS = 300


def convert(files: Sequence[Path], target: str, out_dir: Path, *, filter_options: str = "") -> dict[Path, Path]:
    """Convert `files` to `target` ("csv", "pdf", "xlsx"...) in one soffice run; maps each input to its output.

    An input that LibreOffice could not open has no output file and is missing from the result, so a
    caller can assert on exactly which files opened.
    """
    soffice = require_program("soffice", "libreoffice-calc libreoffice-impress")
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = f"{target}:{filter_options}" if filter_options else target
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--norestore",
                "--nolockcheck",
                "--convert-to",
                spec,
                "--outdir",
                str(out_dir),
                *map(str, files),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=BATCH_TIMEOUT_SECONDS,
            check=False,
        )
    results: dict[Path, Path] = {}
    for source in files:
        output = out_dir / f"{source.stem}.{target.split(':', maxsplit=1)[0]}"
        if output.is_file() and output.stat().st_size > 0:
            results[source] = output
    return results


def sheet_csv(files: Sequence[Path], out_dir: Path) -> dict[Path, Path]:
    """Every sheet of each workbook as CSV (UTF-8, comma, one file per sheet: `<stem>-<Sheet>.csv`)."""
    # Filter options: separator 44 (,), quote 34 ("), charset 76 (UTF-8), first line 1, cell format
    # (default), ..., the 12th token -1 exports every sheet to its own file (LibreOffice 7.2+).
    options = "44,34,76,1,,0,false,true,false,false,false,-1"
    out_dir.mkdir(parents=True, exist_ok=True)
    convert(files, "csv", out_dir, filter_options=f"Text - txt - csv (StarCalc):{options}")
    return {source: out_dir for source in files if any(out_dir.glob(f"{source.stem}-*.csv"))}
