"""``local:<model>``: a small open model on the CPU, tool calls by constrained decoding."""

from __future__ import annotations

import os
from typing import Any

from agentocore.models.local import models
from agentocore.models.local.backends import CompletionBackend, InProcessLlama, LlamaServerHttp
from agentocore.models.local.parse import parse_step
from agentocore.models.local.prompt import render
from agentocore.models.local.schema import answer_name, step_schema, tool_specs
from agentocore.models.scripted import response
from agentocore.types import ConverseRequest, ConverseResponse

#: Upper bound on generated tokens per step (a step is one short JSON object).
MAX_STEP_TOKENS = 512


class LocalModel:
    """A local model behind the provider protocol.

    Each call renders the Converse request as a plain-text transcript, lets the backend decode
    exactly one step under :func:`~agentocore.models.local.schema.step_schema` (greedy decoding),
    and returns it as Converse content: a ``toolUse`` block
    (``stopReason: tool_use``) or a text answer (``end_turn``), with the backend's token usage.
    """

    def __init__(self, name: str, backend: CompletionBackend) -> None:
        self.name = name
        self.backend = backend

    @property
    def model_id(self) -> str:
        return f"local:{self.name}"

    @property
    def min_cache_tokens(self) -> int:
        return 0  # llama.cpp reuses the common prompt prefix by itself (cache_prompt)

    def completion_body(self, request: ConverseRequest) -> dict[str, Any]:
        """The llama.cpp completion request for the next step of ``request``."""
        limit = (request.get("inferenceConfig") or {}).get("maxTokens") or MAX_STEP_TOKENS
        return {
            "prompt": render(request, tool_specs(request)),
            "json_schema": step_schema(request),
            "n_predict": min(int(limit), MAX_STEP_TOKENS),
            "temperature": 0.0,
            "cache_prompt": True,
            "stop": ["\n"],  # a step is one line
        }

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        result = self.backend.complete(self.completion_body(request))
        choice = (result.get("choices") or [{}])[0]
        content, stop = parse_step(
            str(choice.get("text", "")),
            answer=answer_name(tool_specs(request)),
            truncated=choice.get("finish_reason") == "length",
            position=len(request.get("messages", [])),
        )
        usage = result.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens", 0))
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0))
        reply = response(
            content,
            stop,
            input_tokens=prompt_tokens - cached,  # Bedrock's meaning: uncached input only
            output_tokens=int(usage.get("completion_tokens", 0)),
            cache_read=cached,
        )
        timings = result.get("timings") or {}
        reply["metrics"] = {
            "latencyMs": int(timings.get("prompt_ms", 0) + timings.get("predicted_ms", 0))
        }
        return reply


def create(name: str) -> LocalModel:
    """The registry factory: a llama.cpp server if ``AGENTOCORE_LOCAL_LLM_URL`` is set, else the
    model in this process (file from ``make local-llm``)."""
    url = os.environ.get("AGENTOCORE_LOCAL_LLM_URL")
    if url:
        timeout = float(os.environ.get("AGENTOCORE_LOCAL_LLM_TIMEOUT_S", "120"))
        return LocalModel(name, LlamaServerHttp(url, timeout_s=timeout))
    backend = InProcessLlama(
        models.installed_path(name),
        context_tokens=models.context_tokens(name),
        threads=int(os.environ.get("AGENTOCORE_LOCAL_LLM_THREADS", "0")),
    )
    return LocalModel(name, backend)
