"""A deterministic model that plays scripted Converse responses and records the requests."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agentocore.models.base import ModelError
from agentocore.types import ContentBlock, ConverseRequest, ConverseResponse

#: A scripted step: a full Converse response, an exception to raise, or a function of the request.
Step = ConverseResponse | BaseException | Callable[[ConverseRequest], ConverseResponse]


def text_response(
    text: str,
    stop_reason: str = "end_turn",
    *,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_read: int = 0,
    cache_write: int = 0,
) -> ConverseResponse:
    """A Converse response with one text block."""
    return response(
        [{"text": text}], stop_reason, input_tokens, output_tokens, cache_read, cache_write
    )


def tool_use_response(
    *calls: tuple[str, str, dict[str, Any]],
    text: str | None = None,
    input_tokens: int = 10,
    output_tokens: int = 5,
) -> ConverseResponse:
    """A ``tool_use`` response; each call is ``(tool_use_id, name, input)``."""
    blocks: list[ContentBlock] = [{"text": text}] if text else []
    blocks += [{"toolUse": {"toolUseId": i, "name": n, "input": inp}} for i, n, inp in calls]
    return response(blocks, "tool_use", input_tokens, output_tokens)


def response(
    content: list[ContentBlock],
    stop_reason: str,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_read: int = 0,
    cache_write: int = 0,
) -> ConverseResponse:
    """A Converse response with the given assistant content and stop reason."""
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens + cache_read + cache_write,
            "cacheReadInputTokens": cache_read,
            "cacheWriteInputTokens": cache_write,
        },
        "metrics": {"latencyMs": 0},
    }


class ScriptedModel:
    """Plays ``steps`` in order; records a deep copy of every request in :attr:`requests`.

    Running past the end of the script raises :class:`ModelError` (a test bug, never a hang).
    """

    def __init__(
        self,
        steps: Iterable[Step],
        *,
        model_id: str = "scripted",
        min_cache_tokens: int = 0,
        record: bool = True,
    ) -> None:
        self._steps = list(steps)
        self._model_id = model_id
        self._min_cache_tokens = min_cache_tokens
        self._record = record
        self._lock = threading.Lock()
        self._next = 0
        self.requests: list[ConverseRequest] = []

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ScriptedModel:
        """Load a JSON list of Converse responses."""
        return cls(json.loads(Path(path).read_text()), **kwargs)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def min_cache_tokens(self) -> int:
        return self._min_cache_tokens

    @property
    def remaining(self) -> int:
        """Steps not played yet."""
        return len(self._steps) - self._next

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        with self._lock:
            if self._record:
                self.requests.append(copy.deepcopy(request))
            if self._next >= len(self._steps):
                raise ModelError(f"scripted model ran out of steps after {self._next} calls")
            step = self._steps[self._next]
            self._next += 1
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(request)
        return copy.deepcopy(step) if self._record else step
