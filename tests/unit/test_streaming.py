"""The loop on converse_stream: typed run events in order, the same result as converse, retries
that never send the client text twice, and a watcher that cannot hurt the run."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EventStreamError

from agentocore import Agent, Settings
from agentocore.models import BedrockConverse, RetryableModelError
from agentocore.models.chaos import ChaosModel
from agentocore.models.retry import Backoff
from agentocore.models.rules import RulesModel
from agentocore.models.scripted import text_response, tool_use_response
from agentocore.stream.assemble import UNPARSED_INPUT, assemble, events_of
from agentocore.stream.events import (
    ActionRequested,
    CollectingSink,
    RunFinished,
    TextDelta,
    TextReplaced,
    ToolUseEnd,
    ToolUseStart,
    UsageReport,
)
from agentocore.stream.text import StepText

from .test_rules_model import example_tools

QUESTIONS = (
    "What is the status of order A-1001?",
    "What's the weather in Paris?",
    "Refund order A-1001, it arrived broken",
    "hello",
)


def agent(model: Any, *, stream: bool) -> Agent:
    backoff = Backoff(attempts=4, sleep=lambda s: None, rng=random.Random(0))
    return Agent(model, example_tools(), settings=Settings(stream=stream), backoff=backoff)


def client_text(sink: CollectingSink, step: int) -> str:
    """What a client shows for ``step`` after applying the events in order."""
    text = ""
    for e in sink.events:
        if isinstance(e, TextDelta) and e.step == step:
            text += e.delta
        elif isinstance(e, TextReplaced) and e.step == step:
            text = e.text
    return text


def comparable(result: Any) -> dict[str, Any]:
    data = result.model_dump() if hasattr(result, "model_dump") else dict(vars(result))
    data.pop("elapsed_ms", None)
    for call in data.get("tool_calls") or []:
        if isinstance(call, dict):
            call.pop("duration_ms", None)
    return data


# --- assembly ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        text_response("Hello there", input_tokens=12, output_tokens=3),
        tool_use_response(("t1", "get_weather", {"city": "Paris"}), text="Let me look."),
        tool_use_response(("a", "x", {}), ("b", "y", {"n": [1, {"k": None}]})),
        {
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [
                        {"reasoningContent": {"reasoningText": {"text": "hm", "signature": "s"}}},
                        {"text": "ok"},
                    ],
                }
            },
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            "metrics": {"latencyMs": 5},
        },
    ],
)
def test_a_response_played_as_a_stream_assembles_back_to_itself(response):
    texts: list[str] = []
    assert assemble(events_of(response), texts.append) == response
    blocks = response["output"]["message"]["content"]
    assert "".join(texts) == "".join(b["text"] for b in blocks if "text" in b)


def test_bedrock_stream_events_assemble_with_split_tool_input():
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Chec"}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "king."}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "tu1", "name": "get_weather"}},
            }
        },
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"ci'}}}},
        {
            "contentBlockDelta": {
                "contentBlockIndex": 1,
                "delta": {"toolUse": {"input": 'ty":"Oslo"}'}},
            }
        },
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 2,
                "start": {"toolUse": {"toolUseId": "tu2", "name": "get_weather"}},
            }
        },
        {
            "contentBlockDelta": {
                "contentBlockIndex": 2,
                "delta": {"toolUse": {"input": '{"city": "Li'}},
            }
        },
        {"messageStop": {"stopReason": "max_tokens"}},
        {"metadata": {"usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13}}},
    ]
    got = assemble(events)
    assert got["stopReason"] == "max_tokens"
    content = got["output"]["message"]["content"]
    assert content[0] == {"text": "Checking."}
    assert content[1]["toolUse"] == {
        "toolUseId": "tu1",
        "name": "get_weather",
        "input": {"city": "Oslo"},
    }
    assert content[2]["toolUse"]["input"] == {UNPARSED_INPUT: '{"city": "Li'}  # cut off


# --- the run ----------------------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_streamed_run_has_the_result_of_a_converse_run(question):
    plain = agent(RulesModel(), stream=False).run(question)
    sink = CollectingSink()
    streamed = agent(RulesModel(), stream=True).run(question, events=sink)
    assert comparable(streamed) == comparable(plain)
    [finished] = sink.of(RunFinished)
    assert sink.events[-1] is finished and finished.text == streamed.final_text
    last_step = max(e.step for e in sink.of(UsageReport))
    assert client_text(sink, last_step) == streamed.final_text


def test_events_come_in_the_order_things_happen():
    sink = CollectingSink()
    result = agent(RulesModel(), stream=True).run(QUESTIONS[2], events=sink)
    kinds = [e.type for e in sink.events]
    assert kinds[: kinds.index("tool_use_start")].count("usage") == 1  # the first call's usage
    start, end = kinds.index("tool_use_start"), kinds.index("tool_use_end")
    assert start < end < kinds.index("action_requested") < kinds.index("result")
    [use] = sink.of(ToolUseEnd)
    assert (use.name, use.status) == ("trigger_refund", "success") and use.duration_ms >= 0
    assert sink.of(ToolUseStart)[0].tool_use_id == use.tool_use_id
    [action] = sink.of(ActionRequested)
    assert action.action_id == result.actions[0].action_id
    assert action.action_type == result.actions[0].type
    assert isinstance(action.needs_approval, bool)
    usage = sink.of(UsageReport)
    assert sum(u.input_tokens for u in usage) == result.usage.input_tokens
    assert sum(u.output_tokens for u in usage) == result.usage.output_tokens
    assert all(isinstance(e.as_dict()["type"], str) for e in sink.events)


def test_the_same_events_without_streaming_text_arrives_once_per_call():
    streamed, plain = CollectingSink(), CollectingSink()
    agent(RulesModel(), stream=True).run(QUESTIONS[0], events=streamed)
    agent(RulesModel(), stream=False).run(QUESTIONS[0], events=plain)

    def shape(sink: CollectingSink) -> list[tuple[str, Any]]:
        return [(e.type, getattr(e, "step", None)) for e in sink.events]

    assert shape(streamed) == shape(plain)


@pytest.mark.parametrize("seed", range(12))
def test_an_error_inside_the_stream_is_retried_without_sending_text_twice(seed):
    model = ChaosModel(RulesModel(), 0.6, seed, {"stream_throttling"}, max_faults=2)
    sink = CollectingSink()
    result = agent(model, stream=True).run(QUESTIONS[1], events=sink)
    assert result.status == "completed"
    assert comparable(result) == comparable(agent(RulesModel(), stream=True).run(QUESTIONS[1]))
    assert sink.of(TextReplaced) == []  # the retries said the same: nothing replaced
    for step in {e.step for e in sink.of(UsageReport)}:
        deltas = "".join(e.delta for e in sink.of(TextDelta) if e.step == step)
        assert deltas == client_text(sink, step)  # never a character twice
    assert client_text(sink, max(e.step for e in sink.of(UsageReport))) == result.final_text


class Diverging:
    """Streams "Hello wor", fails in the stream, then answers "Hi there" on the retry."""

    model_id = "rules:v1"  # priced (at 0)
    min_cache_tokens = 0

    def __init__(self) -> None:
        self.calls = 0

    def converse(self, request: Any) -> Any:
        raise AssertionError("streamed only")

    def converse_stream(self, request: Any) -> Iterator[dict[str, Any]]:
        self.calls += 1
        if self.calls == 1:
            yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hello "}}}
            yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "wor"}}}
            raise RetryableModelError("throttlingException: slow down", "ThrottlingException")
        yield from events_of(text_response("Hi there"))


def test_a_retry_that_says_something_else_replaces_the_text_the_client_has():
    sink = CollectingSink()
    model = Diverging()
    result = agent(model, stream=True).run("hi", events=sink)
    assert result.final_text == "Hi there" and model.calls == 2
    assert [e.delta for e in sink.of(TextDelta)] == ["Hello ", "wor"]
    assert sink.of(TextReplaced) == [TextReplaced(1, "Hi there")]
    assert client_text(sink, 1) == "Hi there"


def test_a_watcher_that_fails_never_stops_the_run():
    class Broken:
        def emit(self, event: Any) -> None:
            raise ConnectionError("gone (410)")

    result = agent(RulesModel(), stream=True).run(QUESTIONS[0], events=Broken())
    assert result.status == "completed"


# --- Bedrock's stream ---------------------------------------------------------------------------


class StreamingClient:
    """A bedrock-runtime client whose converse_stream yields ``events``, then raises ``exc``."""

    def __init__(self, events: list[dict[str, Any]], exc: Exception | None = None) -> None:
        self.events, self.exc, self.requests = events, exc, []

    def converse_stream(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)

        def stream() -> Iterator[dict[str, Any]]:
            yield from self.events
            if self.exc is not None:
                raise self.exc

        return {"stream": stream()}


def test_bedrock_streams_with_the_model_id_and_maps_in_stream_errors():
    good = StreamingClient(list(events_of(text_response("ok"))))
    model = BedrockConverse("m-1", client=good)
    assert assemble(model.converse_stream({"messages": []}))["output"]["message"]["content"] == [
        {"text": "ok"}
    ]
    assert good.requests == [{"modelId": "m-1", "messages": []}]
    error = EventStreamError(
        {"Error": {"Code": "throttlingException", "Message": "slow"}}, "ConverseStream"
    )
    failing = BedrockConverse(
        "m-1", client=StreamingClient(list(events_of(text_response("x")))[:2], error)
    )
    with pytest.raises(RetryableModelError) as raised:
        list(failing.converse_stream({"messages": []}))
    assert raised.value.code == "ThrottlingException"


def test_step_text_sends_each_character_once_and_corrects_what_a_retry_took_back():
    sink = CollectingSink()
    text = StepText(3, sink)
    text.add("Hello")
    text.add(" world")
    text.new_attempt()  # a retry: the same start is not sent again
    text.add("Hello wo")
    text.add("rld!")
    assert [e.delta for e in sink.of(TextDelta)] == ["Hello", " world", "!"]
    text.new_attempt()  # a retry that ends earlier than what the client has
    text.add("Hello")
    text.finish()
    assert sink.events[-1] == TextReplaced(3, "Hello") and client_text(sink, 3) == "Hello"
