"""Programs and packages some tests need from outside the venv: missing ones fail on CI, skip locally."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import NoReturn

import pytest


def missing(what: str, install: str) -> NoReturn:
    """Fail when CI is set (CI must install it), otherwise skip with how to install it."""
    message = f"{what} is not installed ({install})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must install it", pytrace=False)
    pytest.skip(message)


def require_program(name: str, debian_package: str) -> str:
    """The path of an executable, or a failure/skip naming the Debian package that provides it."""
    path = shutil.which(name)
    if path is None:
        missing(name, f"apt-get install {debian_package}")
    return path


def require_module(name: str, pip_line: str) -> None:
    """Import check for an optional test dependency."""
    if importlib.util.find_spec(name) is None:
        missing(f"the Python package {name}", f"pip install {pip_line}")
