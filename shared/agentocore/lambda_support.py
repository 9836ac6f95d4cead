"""Glue between the core and AWS Lambda Powertools, shared by the four functions.

Powertools is imported inside the functions below (it ships in the layer; the core package
itself does not need it), and nothing builds an AWS client before the first invocation.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from agentocore.agent.result import AgentResult

METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AgentoCore")
T = TypeVar("T")


class Singleton(Generic[T]):
    """A per-container object built on the first invocation (not at import), then reused.
    ``set`` replaces it (tests) or, with None, makes the next call build it again."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self.factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self.factory()
        return self._value

    def set(self, value: T | None) -> None:
        self._value = value


#: Action events are handled once per (detail-type, action_id): a redelivered event, or the same
#: action id arriving as ActionRequested and later ActionApproved, is told apart by both.
ACTION_EVENT_KEY = '["detail-type", detail.action_id]'
#: What must be the same for a repeat to be a redelivery: the same action id with another
#: payload (or another approval digest) is not, and raises IdempotencyValidationError (DLQ).
ACTION_EVENT_PAYLOAD = "[detail.payload, detail.digest]"


class Idempotent:
    """``fn(data)`` made idempotent with Powertools (DynamoDB persistence in the single table,
    one partition per record: ``PK = idempotency#<name>#<hash>``, ``SK`` = the key, expiry in
    ``ttl``; :mod:`agentocore.idempotency`). With
    ``payload_validation_jmespath``, the same key with another payload raises Powertools'
    ``IdempotencyValidationError``; a call still in progress, ``IdempotencyAlreadyInProgressError``.

    The persistence layer (and its client) is built on the first call, not at import.
    """

    def __init__(
        self,
        fn: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        name: str,
        key_jmespath: str,
        table_name: Callable[[], str],
        expires_after_seconds: int = 24 * 3600,
        payload_validation_jmespath: str = "",
    ) -> None:
        self.fn = fn
        self.name = name
        self.key_jmespath = key_jmespath
        self.payload_validation_jmespath = payload_validation_jmespath
        self.table_name = table_name
        self.expires_after_seconds = expires_after_seconds
        self._wrapped: Callable[..., dict[str, Any]] | None = None
        self._config: Any = None
        self._context: Any = None
        self._lock = threading.Lock()

    def bind(self, context: Any) -> None:
        """The Lambda context for calls made without one (an idempotent step inside the
        handler: Powertools uses its remaining time for the in-progress record's expiry)."""
        self._context = context

    def _build(self) -> Callable[..., dict[str, Any]]:
        from aws_lambda_powertools.utilities.idempotency import (
            IdempotencyConfig,
            idempotent_function,
        )

        from agentocore.idempotency import RecordPerPartitionLayer

        layer = RecordPerPartitionLayer(table_name=self.table_name(), name=self.name)
        self._config = IdempotencyConfig(
            event_key_jmespath=self.key_jmespath,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self.expires_after_seconds,
            payload_validation_jmespath=self.payload_validation_jmespath,
        )
        fn = self.fn

        def call(data: dict[str, Any]) -> dict[str, Any]:
            return fn(data)

        wrapped: Callable[..., dict[str, Any]] = idempotent_function(
            data_keyword_argument="data", persistence_store=layer, config=self._config
        )(call)
        return wrapped

    def reset(self) -> None:
        """Forget the persistence layer (tests switching tables or emulators)."""
        self._wrapped = None

    def __call__(self, data: dict[str, Any], context: Any = None) -> dict[str, Any]:
        if self._wrapped is None:
            with self._lock:
                if self._wrapped is None:
                    self._wrapped = self._build()
        context = context if context is not None else self._context
        if context is not None and self._config is not None:
            self._config.register_lambda_context(context)
        return self._wrapped(data=data)


def json_response(status: int, body: dict[str, Any]) -> Any:
    """A Powertools ``Response`` with a JSON body."""
    import json

    from aws_lambda_powertools.event_handler import Response, content_types

    return Response(status, content_types.APPLICATION_JSON, json.dumps(body, default=str))


def http_app(logger: Any) -> Any:
    """An API Gateway HTTP API (payload v2) resolver whose errors are JSON: an
    :class:`~agentocore.api.ApiError` becomes its status and body (5xx logged), an unknown route
    404."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from agentocore.api import ApiError

    app = APIGatewayHttpResolver()

    def api_error(exc: ApiError) -> Any:
        if exc.status >= 500:
            logger.error("request failed", extra={"code": exc.code, "error": exc.message})
        return json_response(exc.status, exc.body())

    def not_found(_: Exception) -> Any:
        return json_response(404, {"error": {"code": "not_found", "message": "no such route"}})

    def unexpected(exc: Exception) -> Any:
        # never a bare 500 from API Gateway: a JSON answer the client can act on
        logger.exception("request failed unexpectedly", extra={"error": type(exc).__name__})
        if is_transient(exc):
            return json_response(
                503,
                {
                    "error": {
                        "code": "service_unavailable",
                        "message": f"a backing service did not answer ({type(exc).__name__}); "
                        "retry the request (with the same Idempotency-Key)",
                    }
                },
            )
        return json_response(
            500, {"error": {"code": "internal_error", "message": type(exc).__name__}}
        )

    app.exception_handler(ApiError)(api_error)
    app.exception_handler(Exception)(unexpected)
    app.not_found(not_found)
    return app


def is_transient(exc: BaseException) -> bool:
    """An AWS call that failed or timed out (after botocore's retries), or the idempotency
    store's failure: the request may succeed when retried."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyPersistenceLayerError,
    )
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError | IdempotencyPersistenceLayerError)


def caller(app: Any) -> Any:
    """The :class:`~agentocore.api.Identity` of the current request (its JWT claims)."""
    from agentocore.api import Identity

    authorizer = app.current_event.request_context.authorizer
    return Identity.from_claims(authorizer.jwt_claim if authorizer is not None else None)


def record_run(result: AgentResult, *, agent_id: str, tracer: Any = None) -> None:
    """EMF metrics of one run (dimension AgentId) and X-Ray annotations."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    # Only the AgentId dimension (no "service" one): dashboards and alarms select by it.
    metrics = EphemeralMetrics(namespace=METRICS_NAMESPACE)
    metrics.add_dimension("AgentId", agent_id)
    u = result.usage
    metrics.add_metric("ExecutionTime", MetricUnit.Milliseconds, result.elapsed_ms)
    metrics.add_metric("Iterations", MetricUnit.Count, result.iterations)
    metrics.add_metric("ToolCalls", MetricUnit.Count, len(result.tool_calls))
    errors = sum(1 for c in result.tool_calls if c.status != "success")
    metrics.add_metric("ToolErrors", MetricUnit.Count, errors)
    metrics.add_metric("InputTokens", MetricUnit.Count, u.input_tokens)
    metrics.add_metric("OutputTokens", MetricUnit.Count, u.output_tokens)
    metrics.add_metric("CacheReadTokens", MetricUnit.Count, u.cache_read_tokens)
    metrics.add_metric("CostUSD", MetricUnit.NoUnit, result.cost_usd)
    metrics.flush_metrics()
    if tracer is not None:
        tracer.put_annotation("agent_id", agent_id)
        tracer.put_annotation("stop_reason", result.stop_reason or result.status)
        tracer.put_annotation("status", result.status)
        names = sorted({c.name for c in result.tool_calls})
        tracer.put_annotation("tools", ",".join(names) or "-")
        tracer.put_metadata("usage", u.model_dump())
