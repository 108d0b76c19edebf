"""The Redis store's Lua scripts and the hash form of a job record they work on."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

SCRIPT_NAMES = (
    "add",
    "claim",
    "mark_running",
    "progress",
    "finish",
    "deliver",
    "delete",
    "requeue",
    "orphans",
    "expire_pending",
    "sweep",
    "list",
    "counts",
    "stray_claims",
)


@cache
def script_source(name: str) -> str:
    """The text of one script with the shared key names and helpers of `common.lua` in front."""
    if name not in SCRIPT_NAMES:
        raise ValueError(f"no Redis script named {name!r}")
    folder = files(__name__)
    return (folder / "common.lua").read_text(encoding="utf-8") + "\n" + (folder / f"{name}.lua").read_text("utf-8")
