"""The functions' HTTP routes, with Powertools' event handler imported on the first HTTP event.

Importing ``aws_lambda_powertools.event_handler`` loads every resolver it has (AppSync, Bedrock
agents, VPC Lattice, ...) and asyncio: ~50-70 ms of a cold start that an event-triggered
invocation never needs. :class:`HttpApp` records the routes declared at import and builds the
resolver (``agentocore.lambda_support.http_app``) when a request first needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class HttpApp:
    """A Powertools HTTP resolver built on first use; the routes declared before are added to
    it. Everything else (``resolve``, ``current_event``, ``lambda_context``) is the resolver's."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._routes: list[tuple[str, str, Callable[..., Any]]] = []
        self._resolver: Any = None
        self._lock = threading.Lock()

    def get(self, rule: str) -> Callable[[F], F]:
        return self.route(rule, "GET")

    def post(self, rule: str) -> Callable[[F], F]:
        return self.route(rule, "POST")

    def route(self, rule: str, method: str) -> Callable[[F], F]:
        """Declare ``fn`` as the handler of ``method rule`` (added when the resolver is built)."""

        def register(fn: F) -> F:
            with self._lock:
                self._routes.append((rule, method, fn))
                if self._resolver is not None:
                    self._resolver.route(rule=rule, method=method)(fn)
            return fn

        return register

    @property
    def resolver(self) -> Any:
        """The Powertools resolver with every declared route, built once."""
        if self._resolver is None:
            with self._lock:
                if self._resolver is None:
                    resolver = self._build()
                    for rule, method, fn in self._routes:
                        resolver.route(rule=rule, method=method)(fn)
                    self._resolver = resolver
        return self._resolver

    @property
    def built(self) -> bool:
        """Whether the resolver (and Powertools' event handler) was loaded."""
        return self._resolver is not None

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.resolver.resolve(event, context)
        return result

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.resolver, name)
