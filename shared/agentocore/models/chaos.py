"""``chaos:<rate>:<seed>:<inner spec>``: a provider that injects Bedrock's failures by chance.

:class:`ChaosModel` wraps any provider. Before each call it draws from ``random.Random(seed)``;
with probability ``rate`` the call suffers one fault, its kind drawn from ``kinds``. Errors are
real botocore exceptions (the ``ClientError`` codes and messages Bedrock sends, the read timeouts
and closed connections of its transport) translated exactly as :class:`BedrockConverse` translates
them, so the loop sees what it sees in production. Bad responses are the inner model's answer
corrupted the way models and Bedrock corrupt them. Same seed, same requests: same faults.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from typing import Any

from agentocore.models.base import ModelProvider
from agentocore.models.bedrock import provider_error
from agentocore.stream.assemble import events_of, stream_of
from agentocore.types import ContentBlock, ConverseRequest, ConverseResponse

#: Faults that fail the call (no response), as (code, HTTP status, message) for ClientErrors.
CLIENT_ERRORS: dict[str, tuple[str, int, str]] = {
    "throttling": (
        "ThrottlingException",
        429,
        "Too many requests, please wait before trying again.",
    ),
    "stream_throttling": (
        "throttlingException",  # ConverseStream's in-stream event: lower camel case
        400,
        "Too many tokens, please wait before trying again.",
    ),
    "service_unavailable": (
        "ServiceUnavailableException",
        503,
        "Bedrock is unable to process your request.",
    ),
    "model_not_ready": (
        "ModelNotReadyException",
        429,
        "The model specified in the request is not ready to serve inference requests.",
    ),
    "context_window": ("ValidationException", 400, "Input is too long for requested model."),
}
#: Faults that corrupt the model's answer; they need tools in the request.
RESPONSE_KINDS = ("malformed_tool_use", "max_tokens_mid_tool")
KINDS: tuple[str, ...] = (
    *CLIENT_ERRORS,
    "read_timeout",
    "connection_reset",
    *RESPONSE_KINDS,
    "slow",
)
#: Default delay of a ``slow`` fault (seconds).
SLOW_S = 0.05


@functools.cache
def _exceptions() -> Any:
    """bedrock-runtime's modeled exception classes (built once, without a client)."""
    import botocore.session
    from botocore.errorfactory import ClientExceptionsFactory

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return ClientExceptionsFactory().create_client_exceptions(model)


def botocore_error(kind: str, model_id: str, rng: random.Random) -> Exception:
    """The botocore exception a Converse call raises for ``kind`` (an error kind)."""
    from botocore.exceptions import (
        ConnectionClosedError,
        EndpointConnectionError,
        EventStreamError,
        ReadTimeoutError,
    )

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    url = f"https://bedrock-runtime.{region}.amazonaws.com/model/{model_id}/converse"
    exc: Exception
    if kind == "read_timeout":
        exc = ReadTimeoutError(endpoint_url=url)
    elif kind == "connection_reset":
        exc = rng.choice((ConnectionClosedError, EndpointConnectionError))(endpoint_url=url)
    else:
        code, status, message = CLIENT_ERRORS[kind]
        error = {"Code": code, "Message": message}
        if kind == "stream_throttling":  # raised while reading the event stream
            exc = EventStreamError({"Error": error}, "ConverseStream")
        else:
            meta = {"HTTPStatusCode": status, "HTTPHeaders": {"x-amzn-errortype": code}}
            response = {"Error": error, "ResponseMetadata": meta, "message": message}
            exc = _exceptions().from_code(code)(response, "Converse")
    return exc


class ChaosModel:
    """Wraps ``inner``; each call suffers a fault of a kind in ``kinds`` with probability ``rate``.

    ``injected`` counts faults by kind, ``calls`` the calls, ``sequence`` the fault (or None) of
    each call in order. ``slow`` sleeps ``slow_s`` through ``sleep`` before answering normally.
    After ``max_faults`` faults (if given) it injects no more; ``rate`` may change between calls.
    """

    def __init__(
        self,
        inner: ModelProvider,
        rate: float,
        seed: int,
        kinds: Collection[str] | None = None,
        *,
        slow_s: float = SLOW_S,
        sleep: Callable[[float], None] = time.sleep,
        max_faults: int | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"chaos rate must be within [0, 1], got {rate}")
        chosen = tuple(k for k in KINDS if kinds is None or k in kinds)
        unknown = set(kinds or ()) - set(KINDS)
        if unknown or not chosen:
            raise ValueError(f"unknown chaos kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        self.inner = inner
        self.rate = rate
        self.seed = seed
        self.kinds = chosen
        self.slow_s = slow_s
        self.sleep = sleep
        self.max_faults = max_faults
        self.injected: Counter[str] = Counter()
        self.calls = 0
        self.sequence: list[str | None] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def min_cache_tokens(self) -> int:
        return self.inner.min_cache_tokens

    def _draw(self, request: ConverseRequest) -> tuple[str | None, random.Random]:
        """This call's fault (or None) and a generator for its details."""
        tools = bool(_tool_names(request))
        with self._lock:
            self.calls += 1
            fault = None
            room = self.max_faults is None or self.injected.total() < self.max_faults
            if self._rng.random() < self.rate and room:
                kinds = [k for k in self.kinds if tools or k not in RESPONSE_KINDS]
                fault = self._rng.choice(kinds) if kinds else None
            detail = random.Random(self._rng.getrandbits(64))
            if fault is not None:
                self.injected[fault] += 1
            self.sequence.append(fault)
        return fault, detail

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        fault, rng = self._draw(request)
        return self._answer(request, fault, rng)

    def converse_stream(self, request: ConverseRequest) -> Iterator[dict[str, Any]]:
        """The inner model's answer as a stream, with this call's fault: ``stream_throttling``
        arrives mid-stream (after part of the text was sent), as Bedrock's in-stream errors do;
        the others as :meth:`converse` injects them."""
        fault, rng = self._draw(request)
        if fault == "stream_throttling":
            events = list(stream_of(self.inner, request))
            yield from events[: max(1, len(events) // 2)]
            exc = botocore_error(fault, self.model_id, rng)
            raise provider_error(exc) from exc
        yield from events_of(self._answer(request, fault, rng))

    def _answer(
        self, request: ConverseRequest, fault: str | None, rng: random.Random
    ) -> ConverseResponse:
        if fault in ("slow", None):
            if fault == "slow":
                self.sleep(self.slow_s)
            return self.inner.converse(request)
        if fault not in RESPONSE_KINDS:
            exc = botocore_error(fault, self.model_id, rng)
            raise provider_error(exc) from exc
        response = copy.deepcopy(self.inner.converse(request))
        message = response.get("output", {}).get("message") or {"role": "assistant"}
        content: list[ContentBlock] = list(message.get("content") or [])
        texts = [b for b in content if "text" in b]
        uses = [b for b in content if "toolUse" in b]
        if fault == "max_tokens_mid_tool":  # the last call is cut off
            use = copy.deepcopy(uses[-1]["toolUse"]) if uses else self._invented_use(request, rng)
            use["input"] = truncated(use.get("input"))
            blocks, stop = [*texts, *uses[:-1], {"toolUse": use}], "max_tokens"
        else:
            use = copy.deepcopy(uses[0]["toolUse"]) if uses else self._invented_use(request, rng)
            variant = rng.choice(("unknown_tool", "non_object_input", "bedrock_malformed"))
            if variant == "bedrock_malformed":  # Bedrock drops the unparseable call
                blocks, stop = texts, "malformed_tool_use"
            else:
                if variant == "unknown_tool":
                    use["name"] = f"{use['name']}_v2"
                else:  # the arguments as broken JSON text instead of an object
                    use["input"] = _json_text(use.get("input"))[:-1]
                blocks, stop = [*texts, {"toolUse": use}, *uses[1:]], "tool_use"
        response["output"] = {"message": {"role": "assistant", "content": blocks}}
        response["stopReason"] = stop
        return response

    def _invented_use(self, request: ConverseRequest, rng: random.Random) -> dict[str, Any]:
        with self._lock:
            n = self.calls
        name = rng.choice(sorted(_tool_names(request)))
        return {"toolUseId": f"tooluse_chaos{self.seed}_{n}", "name": name, "input": {}}


def truncated(value: Any) -> Any:
    """A tool input cut off mid-way: the first half of its keys, the last string value halved."""
    if not isinstance(value, dict) or not value:
        return {}
    items = list(value.items())[: (len(value) + 1) // 2]
    key, last = items[-1]
    if isinstance(last, str):
        items[-1] = (key, last[: len(last) // 2])
    return dict(items)


def _json_text(value: Any) -> str:
    return json.dumps(value if value is not None else {}, default=str)


def _tool_names(request: ConverseRequest) -> set[str]:
    tools = (request.get("toolConfig") or {}).get("tools", [])
    return {t["toolSpec"]["name"] for t in tools if "toolSpec" in t}


def from_spec(spec: str) -> ChaosModel:
    """``<rate>:<seed>:<inner spec>`` (the inner spec may contain colons). Optional settings:
    ``AGENTOCORE_CHAOS_KINDS`` (comma-separated kinds), ``AGENTOCORE_CHAOS_SLOW_S``."""
    from agentocore.models.registry import create_model

    parts = spec.split(":", 2)
    if len(parts) != 3 or not parts[2]:
        raise ValueError(
            f"chaos spec must look like 'chaos:<rate>:<seed>:<inner spec>', got {spec!r}"
        )
    try:
        rate, seed = float(parts[0]), int(parts[1])
    except ValueError as exc:
        raise ValueError(f"chaos rate must be a number and seed an integer: {spec!r}") from exc
    names = os.environ.get("AGENTOCORE_CHAOS_KINDS", "")
    kinds = [k.strip() for k in names.split(",") if k.strip()] or None
    slow_s = float(os.environ.get("AGENTOCORE_CHAOS_SLOW_S", SLOW_S))
    return ChaosModel(create_model(parts[2]), rate, seed, kinds, slow_s=slow_s)
