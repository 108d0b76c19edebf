"""docjobs server: builds the aiohttp application and runs it. No business logic lives here."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from jobs.api.cors import setup_cors
from jobs.api.errors import error_middleware
from jobs.api.keys import REGISTRY, SETTINGS
from jobs.api.middleware import context_middleware, echo_request_id
from jobs.api.requests import parse_networks
from jobs.api.routes.dashboard import setup_dashboard
from jobs.api.routes.direct import setup_direct_routes
from jobs.api.routes.events import setup_events_routes
from jobs.api.routes.health import setup_health_routes
from jobs.api.routes.jobs import setup_jobs_routes
from jobs.api.routes.metrics import http_metrics_middleware, job_request_paths, setup_metrics
from jobs.api.routes.openapi import setup_openapi
from jobs.api.serve import serve
from jobs.auth import ApiKeys
from jobs.errors import ConfigError
from jobs.logs import configure_logging, log_event
from jobs.registry import EndpointRegistry
from jobs.settings import Settings, load_settings
from jobs.system import drain_on_shutdown, job_system

DEFAULT_CONFIG = Path(__file__).with_name("config.toml")


def create_app(settings: Settings) -> web.Application:
    """The application for these settings: routes, middlewares, and the job system's lifecycle."""
    keys = ApiKeys(settings.auth)
    registry = EndpointRegistry(settings)
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        middlewares=[
            # Outermost, to time the whole request and see the final answer the error middleware chose
            # (an error answer carries its code, so refused job requests are counted too).
            http_metrics_middleware(job_request_paths(registry)),
            error_middleware,
            context_middleware(parse_networks(settings.server.trusted_proxies), keys, settings.auth.protect_metrics),
        ],
    )
    app.on_response_prepare.append(echo_request_id)
    app[SETTINGS] = settings
    app[REGISTRY] = registry
    setup_metrics(app)
    setup_health_routes(app)
    if settings.server.role != "worker":  # a worker instance serves only probes and metrics
        setup_jobs_routes(app)
        setup_events_routes(app)
        setup_openapi(app)
        setup_direct_routes(app, registry)
        setup_dashboard(app)
        setup_cors(app, settings.cors)
    app.cleanup_ctx.append(job_system)
    app.on_shutdown.append(drain_on_shutdown)
    return app


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line flags; they override the config file and the environment."""
    parser = argparse.ArgumentParser(description="Run slow document endpoints as background jobs.")
    parser.add_argument(
        "--config",
        type=Path,
        help=f"TOML settings file (default: {DEFAULT_CONFIG.name} beside server.py, or $DOCJOBS_CONFIG)",
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 8080, or $PORT)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--role",
        choices=["all", "api", "worker"],
        help="all (default): API and workers; api: HTTP only; worker: jobs only, health probes on the port",
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    """Settings from the config file, then the environment, then the flags."""
    config = args.config or (Path(environ["DOCJOBS_CONFIG"]) if environ.get("DOCJOBS_CONFIG") else None)
    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    overrides: dict[str, dict[str, Any]] = {"server": {}, "pool": {}, "logging": {}}
    if args.host:
        overrides["server"]["host"] = args.host
    if args.port is not None:
        overrides["server"]["port"] = args.port
    if args.workers is not None:
        overrides["pool"]["workers"] = args.workers
    if args.role:
        overrides["server"]["role"] = args.role
    if args.log_level:
        overrides["logging"]["level"] = args.log_level
    return load_settings(config, environ, overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `python server.py [--config PATH] [--host H] [--port P]`."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = settings_from(args, dict(os.environ))
        app = create_app(settings)
    except ConfigError as error:
        print(f"docjobs: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.logging.level)
    if settings.server.use_uvloop:
        _install_uvloop()
    log_event("service.listening", host=settings.server.host, port=settings.server.port)
    if settings.auth.disabled and not settings.auth.keys:
        log_event(
            "service.auth_disabled",
            level=logging.WARNING,
            message="authentication is disabled (auth.disabled = true): anyone who can reach the port "
            "can start jobs and read every result",
        )
    # Connections get the drain grace plus a margin to receive their last answers.
    shutdown_timeout = settings.server.shutdown_grace_seconds + 5
    asyncio.run(serve(app, settings.server.host, settings.server.port, shutdown_timeout))
    return 0


def _install_uvloop() -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional, imported only when asked for
    except ImportError:  # pragma: no cover - optional speed-up
        logging.getLogger("docjobs").warning("uvloop is not installed; using the default event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    sys.exit(main())
