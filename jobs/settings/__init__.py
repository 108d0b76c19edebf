"""Settings: frozen dataclasses read once from TOML, the environment and flags, then validated."""

from __future__ import annotations

from jobs.settings.load import load_settings, parse_endpoints
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

__all__ = [
    "AuthSettings",
    "CorsSettings",
    "EndpointSettings",
    "JobSettings",
    "LoggingSettings",
    "PoolSettings",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "load_settings",
    "parse_endpoints",
]
