"""Amazon Bedrock Converse as a model provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agentocore.aws import LazyClient
from agentocore.models.base import ContextWindowExceeded, ModelError, RetryableModelError
from agentocore.types import ConverseRequest, ConverseResponse

#: Error codes worth retrying (the loop backs off with jitter on top of botocore's retries).
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ModelNotReadyException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelTimeoutException",
    }
)
_CONTEXT_MARKERS = ("too long", "context window", "context length", "too many tokens")

#: Minimum cacheable prefix in tokens, by base-model id prefix (Bedrock prompt-caching docs).
_MIN_CACHE_TOKENS = {
    "anthropic.claude-sonnet-4": 1024,
    "anthropic.claude-opus-4": 1024,
    "anthropic.claude-3-7-sonnet": 1024,
    "anthropic.claude-haiku-4-5": 4096,
    "anthropic.claude-3-5-haiku": 2048,
    "amazon.nova": 1000,
}


class BedrockConverse:
    """``bedrock-runtime.converse`` with a lazily built client and adaptive retries."""

    def __init__(
        self,
        model_id: str,
        *,
        client: Any | None = None,
        region_name: str | None = None,
        max_attempts: int = 4,
        read_timeout_s: float = 120.0,
    ) -> None:
        self._model_id = model_id
        self._client = LazyClient(
            "bedrock-runtime",
            client,
            region_name=region_name,
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            read_timeout=read_timeout_s,
            connect_timeout=5,
        )

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def min_cache_tokens(self) -> int:
        from agentocore.budget.pricing import base_model_id

        base = base_model_id(self._model_id)
        for prefix, minimum in _MIN_CACHE_TOKENS.items():
            if base.startswith(prefix):
                return minimum
        return 0

    @property
    def client(self) -> Any:
        """The boto3 client, built on first use (never at import time)."""
        return self._client.get()

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        try:
            response: ConverseResponse = self.client.converse(modelId=self._model_id, **request)
        except (ClientError, ConnectionError, HTTPClientError) as exc:
            raise provider_error(exc) from exc
        response.pop("ResponseMetadata", None)
        return response

    def converse_stream(self, request: ConverseRequest) -> Iterator[dict[str, Any]]:
        """``bedrock-runtime.converse_stream``'s events. Errors, including those that arrive
        inside the stream (botocore does not retry them), become provider errors, so the loop
        retries them as it retries Converse's."""
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        try:
            response = self.client.converse_stream(modelId=self._model_id, **request)
            yield from response["stream"]
        except (ClientError, ConnectionError, HTTPClientError) as exc:
            raise provider_error(exc) from exc


def provider_error(exc: Exception) -> ModelError:
    """The provider error for a failed Converse (or ConverseStream) call.

    Codes match in either case: ConverseStream's in-stream error events are lower camel case
    (``throttlingException``). Transport failures (read timeouts, closed connections, endpoint
    errors) are retryable; ``ValidationException`` about the input's length is
    :class:`ContextWindowExceeded`.
    """
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return RetryableModelError(str(exc), type(exc).__name__)
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", exc))
    canonical = code[:1].upper() + code[1:]
    if canonical in RETRYABLE_CODES:
        return RetryableModelError(f"{code}: {message}", canonical)
    if canonical == "ValidationException" and any(m in message.lower() for m in _CONTEXT_MARKERS):
        return ContextWindowExceeded(message)
    return ModelError(f"{code}: {message}")
