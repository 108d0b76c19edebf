"""The endpoint registry: which paths may run, with which handler, validator and limits."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jobs.errors import ConfigError, EndpointNotAllowed, InvalidPayload
from jobs.settings import EndpointSettings, Settings

Handler = Callable[[dict[str, Any]], dict[str, Any]]
# Real payloads nest a handful of levels; hundreds would overflow the pickler that hands them to a worker.
MAX_PAYLOAD_DEPTH = 64
Validator = Callable[[dict[str, Any]], None]


def resolve_callable(ref: str) -> Callable[..., Any]:
    """Import `"package.module:function"` and return the function."""
    module_name, _, attribute = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for {ref!r}: {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(f"{ref!r}: {module_name} has no function {attribute!r}")
    return function  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A registered endpoint, its validator resolved and its limits filled in."""

    path: str
    handler_ref: str
    validator: Validator | None
    timeout_seconds: float
    estimated_seconds: float
    description: str
    retries: int = 0

    def validate(self, payload: Any) -> None:
        """Run the payload validator; any ValueError becomes a 400 naming what is wrong."""
        if not isinstance(payload, dict):
            raise InvalidPayload("payload must be a JSON object")
        depth = nesting_depth(payload)
        if depth > MAX_PAYLOAD_DEPTH:
            raise InvalidPayload(f"payload is nested {depth} levels deep; at most {MAX_PAYLOAD_DEPTH} are accepted")
        if self.validator is None:
            return
        try:
            self.validator(payload)
        except ValueError as exc:
            raise InvalidPayload(str(exc) or "the payload is not valid for this endpoint") from None


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value (without recursion, so any depth is safe)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


class EndpointRegistry:
    """The whitelist of endpoints that may be run, built once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._endpoints: dict[str, Endpoint] = {}
        for spec in settings.endpoints:
            self._endpoints[spec.path] = self._build(spec, settings)

    @staticmethod
    def _build(spec: EndpointSettings, settings: Settings) -> Endpoint:
        resolve_callable(spec.handler)  # fail at start-up, not at the first job, on a typo
        validator = resolve_callable(spec.validator) if spec.validator else None
        return Endpoint(
            path=spec.path,
            handler_ref=spec.handler,
            validator=validator,
            timeout_seconds=settings.timeout_for(spec),
            estimated_seconds=spec.estimated_seconds or settings.jobs.estimated_seconds,
            description=spec.description,
            retries=spec.retries,
        )

    def get(self, path: Any) -> Endpoint:
        """The endpoint registered at `path`, or EndpointNotAllowed."""
        if not isinstance(path, str) or not path:
            raise EndpointNotAllowed("'endpoint' is required: the path of a registered endpoint")
        endpoint = self._endpoints.get(path)
        if endpoint is None:
            allowed = ", ".join(sorted(self._endpoints)) or "none"
            raise EndpointNotAllowed(
                f"endpoint {path[:200]!r} is not available for async processing; allowed: {allowed}"
            )
        return endpoint

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self._endpoints.values())

    def handler_modules(self) -> list[str]:
        """Modules a worker imports once at start so the first job does not pay for it."""
        return sorted({e.handler_ref.partition(":")[0] for e in self._endpoints.values()})
