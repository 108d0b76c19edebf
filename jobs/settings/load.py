"""Settings: read once from config.toml, then the environment, then command-line flags.

Every key of every section can be overridden by an environment variable named
`DOCJOBS_<SECTION>_<KEY>` (for example `DOCJOBS_JOBS_PER_CLIENT_LIMIT=5`); `PORT` sets the port as
container platforms expect. The endpoint table can come from `DOCJOBS_ENDPOINTS` as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobs.errors import ConfigError
from jobs.settings.checks import validate
from jobs.settings.model import (
    AuthSettings,
    CorsSettings,
    EndpointSettings,
    JobSettings,
    LoggingSettings,
    PoolSettings,
    ServerSettings,
    Settings,
    StoreSettings,
)

SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "pool": PoolSettings,
    "jobs": JobSettings,
    "cors": CorsSettings,
    "logging": LoggingSettings,
    "auth": AuthSettings,
    "store": StoreSettings,
}


def load_settings(
    config_path: Path | None,
    environ: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read the file (if any), apply environment then explicit overrides, and validate."""
    raw: dict[str, Any] = {}
    if config_path is not None:
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {config_path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None
    unknown = set(raw) - set(SECTIONS) - {"endpoints"}
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
    sections = {name: dict(raw.get(name, {})) for name in SECTIONS}
    _apply_environment(sections, environ)
    for name, values in (overrides or {}).items():
        sections[name].update(values)
    built = {name: _build_section(name, cls, sections[name]) for name, cls in SECTIONS.items()}
    endpoints_raw = raw.get("endpoints", {})
    if "DOCJOBS_ENDPOINTS" in environ:
        endpoints_raw = _parse_json_env("DOCJOBS_ENDPOINTS", environ["DOCJOBS_ENDPOINTS"])
    if built["auth"].keys_file:
        built["auth"] = dataclasses.replace(built["auth"], keys=_merge_keys_file(built["auth"]))
    settings = Settings(**built, endpoints=parse_endpoints(endpoints_raw))
    validate(settings)
    return settings


def _merge_keys_file(auth: AuthSettings) -> tuple[tuple[str, str], ...]:
    path = Path(auth.keys_file)
    try:
        text = path.read_text(encoding="utf-8")
        loaded = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"auth.keys_file not found: {path}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"auth.keys_file {path} is not valid: {exc}") from None
    merged = dict(auth.keys)
    merged.update(_coerce_pairs(f"auth.keys_file {path}", loaded.get("keys", loaded)))
    return tuple(sorted(merged.items()))


def _apply_environment(sections: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> None:
    if environ.get("PORT"):
        sections["server"]["port"] = environ["PORT"]
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            variable = f"DOCJOBS_{name}_{f.name}".upper()
            if variable in environ:
                sections[name][f.name] = environ[variable]


def _parse_json_env(variable: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{variable} is not valid JSON: {exc}") from None


def _build_section(section: str, cls: type[Any], values: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{section}]: {', '.join(sorted(unknown))}")
    converted = {key: _coerce(f"{section}.{key}", hints[key], value) for key, value in values.items()}
    return cls(**converted)


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """Turn a TOML or environment value into the field's type, or say clearly why not."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return None if value in (None, "") else _coerce(name, inner, value)
    if hint is bool:
        return _coerce_bool(name, value)
    if hint in (int, float):
        return _coerce_number(name, hint, value)
    if origin is tuple and typing.get_args(hint)[0] is not str:
        return _coerce_pairs(name, value)
    if origin is tuple:
        return _coerce_strings(name, value)
    if hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{name} must be a string, not {value!r}")


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _coerce_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _coerce_number(name: str, kind: type[int] | type[float], value: Any) -> int | float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, not {value!r}") from None


def _coerce_pairs(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    # A TOML table, or from the environment a JSON object: {"netlify": "sha256:..."}.
    if isinstance(value, str):
        value = _parse_json_env(name, value) if value.strip() else {}
    if isinstance(value, tuple):
        value = dict(value)
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f'{name} must be a table of name = "string"')
    return tuple(sorted(value.items()))


def _coerce_strings(name: str, value: Any) -> tuple[str, ...]:
    # From the environment a list is written comma-separated: "https://a.example,https://b.example".
    items = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{name} must be a list of strings")
    return tuple(items)


def parse_endpoints(raw: Any) -> tuple[EndpointSettings, ...]:
    """Read the `[endpoints]` table: `path = "module:function"` or `path = { handler = ..., ... }`."""
    if not isinstance(raw, dict):
        raise ConfigError("[endpoints] must be a table of path = handler")
    endpoints = []
    for path, spec in raw.items():
        options = {"handler": spec} if isinstance(spec, str) else spec
        if not isinstance(options, dict):
            raise ConfigError(f'endpoint "{path}" must be "module:function" or a table with a handler')
        name = f"endpoints.{path!r}"
        allowed = {f.name for f in dataclasses.fields(EndpointSettings)} - {"path"}
        unknown = set(options) - allowed
        if unknown:
            raise ConfigError(f"{name}: unknown option(s) {', '.join(sorted(unknown))}")
        if "handler" not in options:
            raise ConfigError(f"{name}: a handler is required")
        hints = typing.get_type_hints(EndpointSettings)
        values = {key: _coerce(f"{name}.{key}", hints[key], value) for key, value in options.items()}
        endpoints.append(EndpointSettings(path=path, **values))
    return tuple(endpoints)
