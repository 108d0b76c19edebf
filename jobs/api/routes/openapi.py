"""GET /api/v1/openapi.json: the contract in openapi.yaml, read once at start-up and served as JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import yaml
from aiohttp import web

from jobs.api.keys import OPENAPI
from jobs.errors import ConfigError
from jobs.logs import log_event

# openapi.yaml lives at the repository root, beside server.py (and /app in the image).
SPEC_PATH = Path(__file__).resolve().parents[3] / "openapi.yaml"
OPENAPI_PATH = "/api/v1/openapi.json"


def load_openapi(path: Path = SPEC_PATH) -> bytes:
    """The YAML document as compact JSON bytes; a ConfigError when it is not a valid YAML mapping."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or "openapi" not in document:
        raise ConfigError(f"{path} is not an OpenAPI document")
    try:
        return json.dumps(document, separators=(",", ":")).encode()
    except TypeError as exc:  # an unquoted YAML date or time becomes a datetime, which JSON cannot hold
        raise ConfigError(f"{path} holds a value JSON cannot represent (quote it): {exc}") from None


def setup_openapi(app: web.Application, path: Path = SPEC_PATH) -> None:
    """Add GET /api/v1/openapi.json, or log a warning and skip it when the document was not shipped."""
    if not path.is_file():
        # The contract is documentation: a deployment that left it out still serves jobs.
        log_event("service.openapi_missing", level=logging.WARNING, path=str(path))
        return
    app[OPENAPI] = load_openapi(path)
    app.router.add_get(OPENAPI_PATH, openapi_document)


async def openapi_document(request: web.Request) -> web.Response:
    """The OpenAPI document as JSON."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json", charset="utf-8")
