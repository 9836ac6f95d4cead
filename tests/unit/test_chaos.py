"""The chaos provider: Bedrock's faults by seeded chance, each ending as the loop promises."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EventStreamError,
    ReadTimeoutError,
)

from agentocore import Agent
from agentocore.agent.loop import MALFORMED_FEEDBACK, TRUNCATED_TOOL_USE
from agentocore.memory.compaction import ModelSummarizer
from agentocore.models import (
    BedrockConverse,
    ContextWindowExceeded,
    ModelError,
    RetryableModelError,
    create_model,
)
from agentocore.models.chaos import KINDS, ChaosModel, botocore_error, truncated
from agentocore.models.local import LocalModel
from agentocore.models.retry import Backoff
from agentocore.models.rules import RulesModel

from .test_rules_model import example_tools

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
RETRIED = (
    "throttling",
    "stream_throttling",
    "service_unavailable",
    "model_not_ready",
    "read_timeout",
    "connection_reset",
)
ERRORS = (*RETRIED, "context_window")
TYPED = {"completed", "failed", "truncated", "max_iterations", "refused", "budget_exceeded"}
QUESTIONS = (
    "What is the status of order A-1001?",
    "What's the weather in Paris?",
    "Where is order A-2002?",
    "hello",
)


def chaos(rate: float, seed: int = 1, kinds: Any = None, **kwargs: Any) -> ChaosModel:
    return ChaosModel(RulesModel(), rate, seed, kinds, **kwargs)


def agent(model: Any, sleeps: list[float] | None = None, **kwargs: Any) -> Agent:
    sleep = (sleeps if sleeps is not None else []).append
    backoff = Backoff(attempts=4, sleep=sleep, rng=random.Random(0))
    return Agent(model, example_tools(), backoff=backoff, **kwargs)


class RaisingClient:
    """A bedrock-runtime client whose converse raises ``exc`` (what botocore would raise)."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def converse(self, **_: Any) -> Any:
        raise self.exc


# --- the faults are Bedrock's -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ERRORS)
def test_error_faults_are_what_bedrock_converse_raises(kind):
    model = chaos(1.0, kinds={kind})
    with pytest.raises(ModelError) as injected:
        model.converse({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
    cause = injected.value.__cause__
    assert cause is not None
    real = BedrockConverse(MODEL, client=RaisingClient(cause))
    with pytest.raises(ModelError) as translated:
        real.converse({"messages": []})
    assert type(injected.value) is type(translated.value)
    assert str(injected.value) == str(translated.value)
    assert getattr(injected.value, "code", None) == getattr(translated.value, "code", None)
    assert model.injected == {kind: 1} and model.calls == 1


def test_injected_errors_carry_bedrock_codes_and_botocore_types():
    rng = random.Random(0)
    throttled = botocore_error("throttling", "m", rng)
    assert isinstance(throttled, ClientError)
    assert throttled.response["Error"]["Code"] == "ThrottlingException"
    assert type(throttled).__name__ == "ThrottlingException"  # the modeled class
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    stream = botocore_error("stream_throttling", "m", rng)
    assert isinstance(stream, EventStreamError)
    assert stream.response["Error"]["Code"] == "throttlingException"
    assert stream.operation_name == "ConverseStream"
    too_long = botocore_error("context_window", "m", rng)
    assert too_long.response["Error"]["Code"] == "ValidationException"
    assert isinstance(botocore_error("read_timeout", "m", rng), ReadTimeoutError)
    resets = {type(botocore_error("connection_reset", "m", rng)).__name__ for _ in range(20)}
    assert resets == {"ConnectionClosedError", "EndpointConnectionError"}


# --- regressions in the Bedrock provider the faults exposed -------------------------------------


def test_bedrock_connection_closed_is_retried_not_raised_out_of_the_run():
    # ConnectionClosedError is an HTTPClientError, neither ConnectionError nor ReadTimeoutError:
    # it escaped BedrockConverse and Agent.run untranslated.
    closed = ConnectionClosedError(endpoint_url="https://bedrock-runtime.example/converse")
    provider = BedrockConverse(MODEL, client=RaisingClient(closed))
    with pytest.raises(RetryableModelError) as info:
        provider.converse({"messages": []})
    assert info.value.code == "ConnectionClosedError"
    result = agent(provider).run("hi")
    assert result.status == "failed" and "Connection was closed" in (result.error or "")


def test_bedrock_stream_throttling_lower_case_is_retryable():
    # ConverseStream's in-stream error events are lower camel case: "throttlingException".
    error = {"Error": {"Code": "throttlingException", "Message": "Too many tokens"}}
    provider = BedrockConverse(
        MODEL, client=RaisingClient(EventStreamError(error, "ConverseStream"))
    )
    with pytest.raises(RetryableModelError) as info:
        provider.converse({"messages": []})
    assert info.value.code == "ThrottlingException"


# --- every kind through the real loop ------------------------------------------------------------


@pytest.mark.parametrize("kind", RETRIED)
def test_transient_faults_are_retried_then_answered(kind):
    model = chaos(1.0, kinds={kind}, max_faults=1)
    sleeps: list[float] = []
    result = agent(model, sleeps).run(QUESTIONS[0])
    assert result.status == "completed", result.error
    assert "A-1001" in result.final_text
    assert len(sleeps) == 1  # one backoff, then the retry succeeded
    assert model.injected == {kind: 1}


@pytest.mark.parametrize("kind", RETRIED)
def test_persistent_transient_faults_end_as_a_failed_result(kind):
    model = chaos(1.0, kinds={kind})
    sleeps: list[float] = []
    result = agent(model, sleeps).run(QUESTIONS[0])
    assert result.status == "failed" and result.error.startswith("model call failed")
    assert len(sleeps) == 3 and model.injected == {kind: 4}
    assert result.messages == []  # nothing answered, nothing to store


def test_context_window_without_history_fails_typed():
    result = agent(chaos(1.0, kinds={"context_window"})).run(QUESTIONS[0])
    assert (result.status, result.stop_reason) == ("failed", "model_context_window_exceeded")


def test_context_window_compacts_the_history_then_answers():
    model = chaos(1.0, kinds={"context_window"}, max_faults=1)
    history = [
        {"role": "user", "content": [{"text": "earlier question"}]},
        {"role": "assistant", "content": [{"text": "earlier answer"}]},
    ]
    runner = agent(model, summarizer=ModelSummarizer(model))
    result = runner.run(QUESTIONS[0], history=history)
    assert result.status == "completed" and result.compaction is not None
    assert "A-1001" in result.final_text


def first_assistant(result: Any) -> dict[str, Any]:
    return result.messages[1]


def test_malformed_tool_use_reaches_the_model_as_an_error_in_every_variant():
    seen: dict[str, int] = {}
    for seed in range(30):
        model = chaos(1.0, seed, {"malformed_tool_use"}, max_faults=1)
        result = agent(model).run(QUESTIONS[0])
        assert result.status == "completed", result.error
        uses = [b["toolUse"] for b in first_assistant(result)["content"] if "toolUse" in b]
        if not uses:  # Bedrock's malformed_tool_use: fed back once
            assert result.messages[2]["content"][0]["text"] == MALFORMED_FEEDBACK.format(
                reason="malformed_tool_use"
            )
            variant = "bedrock_malformed"
        elif isinstance(uses[0]["input"], str):
            assert result.tool_calls[0].status == "invalid_input"
            variant = "non_object_input"
        else:
            assert uses[0]["name"] == "get_order_status_v2"
            assert result.tool_calls[0].status == "unknown_tool"
            variant = "unknown_tool"
        if uses:  # the model saw the error as a toolResult
            tool_result = result.messages[2]["content"][0]["toolResult"]
            assert tool_result["status"] == "error"
        seen[variant] = seen.get(variant, 0) + 1
    assert set(seen) == {"bedrock_malformed", "non_object_input", "unknown_tool"}


def test_max_tokens_mid_tool_never_runs_the_cut_call():
    model = chaos(1.0, kinds={"max_tokens_mid_tool"}, max_faults=1)
    result = agent(model).run(QUESTIONS[0])
    assert result.status == "completed"
    assert result.tool_calls == []  # the cut call never ran
    assert not any("toolUse" in b for m in result.messages for b in m["content"])
    assert result.messages[2]["content"][0]["text"] == TRUNCATED_TOOL_USE


def test_a_truncated_tool_input_is_cut_mid_way():
    assert truncated({"order_id": "A-1001"}) == {"order_id": "A-1"}
    assert truncated({"a": 1, "b": "long text", "c": 3}) == {"a": 1, "b": "long"}
    assert truncated({}) == {} and truncated("x") == {}


def test_response_faults_need_tools_in_the_request():
    model = chaos(1.0, kinds={"malformed_tool_use", "max_tokens_mid_tool"})
    reply = model.converse({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
    assert reply["stopReason"] == "end_turn" and model.injected == {}


def test_slow_sleeps_through_the_injected_sleep_then_answers_normally():
    sleeps: list[float] = []
    model = chaos(1.0, kinds={"slow"}, slow_s=0.25, sleep=sleeps.append)
    plain = agent(RulesModel()).run(QUESTIONS[0])
    result = agent(model).run(QUESTIONS[0])
    assert result.status == "completed" and result.final_text == plain.final_text
    assert sleeps == [0.25, 0.25] and model.injected == {"slow": 2}


# --- determinism, transparency, coverage -------------------------------------------------------


def conversation(model: Any, turns: int = 8) -> list[tuple[str, str]]:
    """Runs a conversation; every turn must end as a typed result (never an exception)."""
    runner = agent(model, summarizer=ModelSummarizer(model))
    history: list[dict[str, Any]] = []
    outcomes = []
    for i in range(turns):
        result = runner.run(QUESTIONS[i % len(QUESTIONS)], history=history)
        assert result.status in TYPED, result
        history += result.messages
        outcomes.append((result.status, result.final_text))
    return outcomes


def test_rate_zero_is_transparent():
    model = chaos(0.0, seed=5)
    assert conversation(model) == conversation(RulesModel())
    assert model.injected == {} and model.calls > 0 and set(model.sequence) == {None}


def test_a_seed_reproduces_the_same_fault_sequence():
    first, again, other = chaos(0.4, 11), chaos(0.4, 11), chaos(0.4, 12)
    outcomes = conversation(first)
    assert conversation(again) == outcomes
    assert again.sequence == first.sequence and again.injected == first.injected
    conversation(other)
    assert other.sequence != first.sequence


def test_every_kind_is_injected_and_every_turn_ends_typed():
    total: dict[str, int] = {}
    for seed in range(6):
        model = chaos(0.5, seed)
        conversation(model, turns=12)  # asserts each turn's status is a typed one
        for kind, n in model.injected.items():
            total[kind] = total.get(kind, 0) + n
    assert set(total) == set(KINDS)


# --- any provider, by spec --------------------------------------------------------------------


def test_the_chaos_spec_wraps_any_provider(monkeypatch):
    model = create_model("chaos:0.3:7:rules:v1")
    assert isinstance(model, ChaosModel) and isinstance(model.inner, RulesModel)
    assert (model.rate, model.seed, model.model_id) == (0.3, 7, "rules:v1")
    assert model.kinds == KINDS
    monkeypatch.setenv("AGENTOCORE_CHAOS_KINDS", "throttling, slow")
    monkeypatch.setenv("AGENTOCORE_CHAOS_SLOW_S", "0.01")
    nested = create_model("chaos:0.1:3:chaos:1:2:rules:v1")
    assert nested.kinds == ("throttling", "slow") and nested.slow_s == 0.01
    assert isinstance(nested.inner, ChaosModel) and nested.inner.rate == 1.0


@pytest.mark.parametrize(
    "spec", ["chaos:0.3:rules:v1", "chaos:x:1:rules:v1", "chaos:2:1:rules:v1", "chaos:0.1:1:"]
)
def test_bad_chaos_specs_are_refused(spec):
    with pytest.raises(ValueError):
        create_model(spec)


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="unknown chaos kinds"):
        chaos(0.1, kinds={"throttling", "gremlins"})


class FakeBackend:
    """llama.cpp completions: a tool step for a user question, an answer after a result."""

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        step: dict[str, Any] = {"tool": "get_order_status", "input": {"order_id": "A-1001"}}
        if "Result:" in body["prompt"]:
            step = {"tool": "answer", "input": {"text": "Order A-1001 was delivered."}}
        return {
            "choices": [{"text": json.dumps(step), "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10},
        }


def test_the_local_provider_runs_through_chaos():
    inner = LocalModel("fake", FakeBackend())
    model = ChaosModel(inner, 0.5, 3)
    conversation(model, turns=10)
    assert model.model_id == "local:fake" and model.injected.total() > 0


class ConverseClient:
    """A bedrock-runtime client that always answers (the faults come from chaos)."""

    def converse(self, **_: Any) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 6},
            "ResponseMetadata": {},
        }


def test_the_bedrock_provider_runs_through_chaos():
    model = ChaosModel(BedrockConverse(MODEL, client=ConverseClient()), 0.5, 9)
    conversation(model, turns=10)
    assert model.injected.total() > 0


def test_context_window_is_the_providers_error_type():
    with pytest.raises(ContextWindowExceeded):
        chaos(1.0, kinds={"context_window"}).converse({"messages": []})
