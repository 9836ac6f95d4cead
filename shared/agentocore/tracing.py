"""X-Ray tracing for the functions at the lowest cost that keeps it correct.

With tracing on (on Lambda, ``POWERTOOLS_TRACE_DISABLED`` not set), :func:`function_tracer` is
Powertools' ``Tracer`` that patches botocore only: every AWS call of the function (DynamoDB,
EventBridge, Bedrock, S3, SNS, Secrets Manager) is a subsegment, and nothing else is imported and
patched (Powertools' default ``patch_all`` also imports requests, sqlite3, httplib, ...). With
tracing off (tests, the local stack, outside Lambda: where Powertools disables its Tracer too),
it is a :class:`NoTracer`, and the X-Ray SDK (and the botocore it imports) is never loaded.
``benchmarks/cold_start.py --xray-costs`` measures each part.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

#: What the functions' AWS calls go through; the only library the tracer patches.
PATCHED_MODULES = ("botocore",)
_TRUTHY = {"1", "true", "yes", "on", "y", "t"}


class NoTracer:
    """Tracing off: the decorators return the function itself, annotations are dropped."""

    def __init__(self, service: str) -> None:
        self.service = service

    def put_annotation(self, key: str, value: Any) -> None:
        """Dropped."""

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        """Dropped."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **kwargs: Any) -> Any:
        if lambda_handler is None:
            return functools.partial(self.capture_lambda_handler, **kwargs)
        return lambda_handler

    def capture_method(self, method: Any = None, **kwargs: Any) -> Any:
        if method is None:
            return functools.partial(self.capture_method, **kwargs)
        return method


def tracing_enabled(env: dict[str, str] | None = None) -> bool:
    """Powertools' rule: on in a Lambda environment unless ``POWERTOOLS_TRACE_DISABLED``; off
    outside Lambda (no ``LAMBDA_TASK_ROOT``) and under SAM CLI or Chalice local."""
    env = dict(os.environ) if env is None else env
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUTHY:
        return False
    if env.get("AWS_SAM_LOCAL") or env.get("AWS_CHALICE_CLI_MODE"):
        return False
    return bool(env.get("LAMBDA_TASK_ROOT"))


def function_tracer(service: str, env: dict[str, str] | None = None) -> NoTracer | Tracer:
    """The function's tracer, decided once at init (Lambda's tracing mode is per function)."""
    if not tracing_enabled(env):
        return NoTracer(service)
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=service, auto_patch=False)
    tracer.patch(PATCHED_MODULES)
    return tracer
