"""The model-provider protocol and the errors providers raise."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agentocore.types import ConverseRequest, ConverseResponse


@runtime_checkable
class ModelProvider(Protocol):
    """Anything that answers a Converse request with a Converse response.

    ``request`` holds ``system``, ``messages``, ``toolConfig`` and ``inferenceConfig`` exactly as
    ``bedrock-runtime.converse`` takes them (without ``modelId``); the response has ``output``,
    ``stopReason`` and ``usage``.
    """

    @property
    def model_id(self) -> str:
        """Identifier used for pricing and stored with every turn."""
        ...

    @property
    def min_cache_tokens(self) -> int:
        """Smallest prefix (tokens) the model caches; 0 if it does not support cachePoint."""
        ...

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        """Run one model call."""
        ...


class ModelError(Exception):
    """The model call failed and retrying will not help."""


class RetryableModelError(ModelError):
    """Throttling or a transient outage: the loop retries with backoff and jitter."""

    def __init__(self, message: str, code: str = "ThrottlingException") -> None:
        super().__init__(message)
        self.code = code


class ContextWindowExceeded(ModelError):
    """The request does not fit the model's context window."""
