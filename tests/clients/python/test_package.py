"""The client is a package of its own: installed, it runs anywhere; it and the server import nothing of each other."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from tests.clients.python.commands import docjobs, user_env
from tests.process import ROOT

CLIENT = ROOT / "clients" / "python"
SERVER_SOURCES = [ROOT / "server.py", ROOT / "jobs", ROOT / "handlers"]


def python_files(*places: Path) -> Iterator[Path]:
    for place in places:
        yield from [place] if place.is_file() else sorted(place.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    """The top-level names of what a module imports (absolute imports only)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_installed_docjobs_command_runs_from_any_folder(tmp_path: Path) -> None:
    done = docjobs("http://127.0.0.1:1", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: docjobs ")


def test_the_client_loads_from_its_package_without_any_server_module(tmp_path: Path) -> None:
    probe = (
        "import json, sys, docjobs_client, docjobs_client.cli;"
        "print(json.dumps([docjobs_client.__file__, sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('jobs', 'handlers', 'server'))]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=user_env(""), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    location, server_modules = json.loads(done.stdout)
    assert Path(location).is_relative_to(CLIENT / "src" / "docjobs_client")
    assert server_modules == []


def test_the_server_imports_neither_the_client_nor_rich() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(roots & {"docjobs_client", "rich"})
        for path in python_files(*SERVER_SOURCES)
        if (roots := imported_roots(path)) & {"docjobs_client", "rich"}
    }
    assert offenders == {}
    runtime = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert not [line for line in runtime if line.split("==")[0].strip().lower() == "rich"]


def test_the_client_declares_every_package_it_imports() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # "aiohttp-retry>=2.8.3" -> aiohttp_retry: for these three the distribution name is the import name.
    declared = {
        requirement.split(">")[0].split("=")[0].strip().replace("-", "_") for requirement in project["dependencies"]
    }
    imported = set().union(*(imported_roots(path) for path in python_files(CLIENT / "src")))
    third_party = imported - set(sys.stdlib_module_names) - {"docjobs_client"}
    assert third_party == declared, "imports and declared dependencies differ"
    assert project["scripts"] == {"docjobs": "docjobs_client.cli:main"}
    assert project["requires-python"] == ">=3.11"
