"""The loop's deadline: deferral at a safe checkpoint, and resuming a deferred run."""

from __future__ import annotations

import itertools

import pytest

from agentocore import Agent, Settings
from agentocore.budget import Budget, Spent
from agentocore.events import CollectingActionSink
from agentocore.models import ModelError, ScriptedModel
from agentocore.models.scripted import text_response, tool_use_response

from .sample_tools import OrderInput, build_registry


class FakeClock:
    """A monotonic clock the scripted steps move forward (no real sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def slow(clock, seconds, response):
    """A scripted step that takes ``seconds`` of (fake) time."""

    def step(request):
        clock.advance(seconds)
        return response

    return step


def make_agent(steps, clock, *, sink=None, **settings):
    model = ScriptedModel(steps)
    agent = Agent(
        model,
        build_registry(),
        settings=Settings(**settings),
        action_sink=sink or CollectingActionSink(),
        clock=clock,
    )
    return agent, model


def assert_alternating(messages):
    assert messages[0]["role"] == "user"
    for a, b in itertools.pairwise(messages):
        assert a["role"] != b["role"]


def refund(tid="t1", order="A-1001"):
    return tool_use_response((tid, "trigger_refund", {"order_id": order, "reason": "broken"}))


def test_run_defers_before_the_model_call_that_follows_tool_results():
    clock = FakeClock()
    sink = CollectingActionSink()
    agent, model = make_agent(
        [slow(clock, 20, refund()), text_response("never in this run")], clock, sink=sink
    )
    result = agent.run("Refund A-1001", deadline=clock() + 25)
    assert result.status == "deferred"
    assert (result.final_text, result.stop_reason, result.error) == ("", None, None)
    assert result.iterations == 1 and model.remaining == 1
    assert [m["role"] for m in result.messages] == ["user", "assistant", "user"]
    assert "toolUse" in result.messages[1]["content"][0]
    assert result.messages[2]["content"][0]["toolResult"]["toolUseId"] == "t1"
    # the tool ran and its action was published, once
    assert [c.name for c in result.tool_calls] == ["trigger_refund"]
    assert [a.type for a in result.actions] == ["RefundRequested"]
    assert len(sink.actions) == 1
    assert result.usage.input_tokens == 10  # the part's usage is reported


def test_time_left_runs_to_completion_as_without_a_deadline():
    clock = FakeClock()
    agent, _ = make_agent(
        [slow(clock, 2, refund()), slow(clock, 2, text_response("Refund requested."))], clock
    )
    result = agent.run("Refund A-1001", deadline=clock() + 25)
    assert result.status == "completed" and result.final_text == "Refund requested."
    assert result.messages[-1]["role"] == "assistant"
    assert_alternating(result.messages)


def test_the_longest_step_raises_the_reserve():
    clock = FakeClock()
    steps = [
        slow(clock, 12, tool_use_response(("t1", "get_weather", {"location": "Oslo"}))),
        slow(clock, 12, tool_use_response(("t2", "get_weather", {"location": "Rome"}))),
        text_response("never"),
    ]
    agent, model = make_agent(steps, clock, sync_reserve_s=1)
    result = agent.run("weather?", deadline=clock() + 30)
    # after step 1: 18 s left >= 12 s (longest step) -> go on; after step 2: 6 s < 12 s -> defer
    assert result.status == "deferred"
    assert result.iterations == 2 and model.remaining == 1
    assert [c.tool_use_id for c in result.tool_calls] == ["t1", "t2"]


def test_a_slow_tool_counts_in_the_step():
    clock = FakeClock()
    model = ScriptedModel(
        [tool_use_response(("t1", "slow_lookup", {"order_id": "A-1001"})), text_response("x")]
    )
    registry = build_registry()

    @registry.tool
    def slow_lookup(args: OrderInput) -> dict[str, str]:
        """Look up an order, slowly."""
        clock.advance(18)
        return {"order_id": args.order_id}

    agent = Agent(model, registry, settings=Settings(), clock=clock)
    result = agent.run("where is A-1001?", deadline=clock() + 25)
    assert result.status == "deferred" and model.remaining == 1
    assert result.tool_calls[0].status == "success"


def test_requested_tools_always_run_and_a_late_answer_is_kept():
    clock = FakeClock()
    # the deadline has passed before the first call: no checkpoint precedes it, and the
    # tools the model asked for run before the run stops
    agent, _ = make_agent([refund(), text_response("never")], clock)
    result = agent.run("Refund A-1001", deadline=clock() - 1)
    assert result.status == "deferred"
    assert result.tool_calls[0].status == "success"
    assert result.messages[-1]["content"][0]["toolResult"]["status"] == "success"
    # an answer without tools is never deferred
    agent, _ = make_agent([text_response("hi")], clock)
    assert agent.run("hello", deadline=clock() - 1).status == "completed"


def test_resume_continues_without_a_user_message():
    clock = FakeClock()
    sink = CollectingActionSink()
    agent, model = make_agent(
        [slow(clock, 20, refund()), text_response("Your refund was requested.")],
        clock,
        sink=sink,
    )
    earlier = [
        {"role": "user", "content": [{"text": "hello"}]},
        {"role": "assistant", "content": [{"text": "hi"}]},
    ]
    deferred = agent.run("Refund A-1001", history=earlier, deadline=clock() + 25)
    history = earlier + deferred.messages
    result = agent.resume(history=history, iterations_used=deferred.iterations)
    assert result.status == "completed" and result.final_text == "Your refund was requested."
    # the model saw exactly the stored history: no user message was added
    assert model.requests[1]["messages"] == history
    assert [m["role"] for m in result.messages] == ["assistant"]
    full = history + result.messages
    assert_alternating(full)
    assert full[-1]["role"] == "assistant"
    assert result.tool_calls == [] and result.actions == []
    assert len(sink.actions) == 1  # the refund was requested once, by the deferred part


def test_resume_after_a_model_failure_still_ends_with_an_assistant_message():
    clock = FakeClock()
    agent, _ = make_agent([slow(clock, 20, refund()), ModelError("boom")], clock)
    deferred = agent.run("Refund A-1001", deadline=clock() + 25)
    result = agent.resume(history=deferred.messages)
    assert result.status == "failed" and "boom" in (result.error or "")
    assert result.messages == [{"role": "assistant", "content": [{"text": "[failed]"}]}]


def test_resume_counts_the_deferred_part_against_max_iterations():
    clock = FakeClock()
    agent, model = make_agent([slow(clock, 20, refund()), text_response("never")], clock)
    deferred = agent.run("Refund A-1001", deadline=clock() + 25)
    agent.settings = Settings(max_iterations=1)
    result = agent.resume(history=deferred.messages, iterations_used=deferred.iterations)
    assert result.status == "max_iterations" and model.remaining == 1
    assert "after 1 iterations" in result.final_text
    assert [m["role"] for m in result.messages] == ["assistant"]


def test_resume_checks_the_budget_first():
    clock = FakeClock()
    agent, model = make_agent([slow(clock, 20, refund()), text_response("never")], clock)
    deferred = agent.run("Refund A-1001", deadline=clock() + 25)
    result = agent.resume(
        history=deferred.messages, budget=Budget(max_tokens=100), spent=Spent(tokens=100)
    )
    assert result.status == "budget_exceeded" and model.remaining == 1
    assert result.messages[-1]["role"] == "assistant"
    assert "token budget exhausted" in result.messages[-1]["content"][0]["text"]


def test_resume_needs_a_history_ending_with_tool_results():
    agent, _ = make_agent([], FakeClock())
    with pytest.raises(ValueError, match="toolResult"):
        agent.resume(history=[{"role": "user", "content": [{"text": "hi"}]}])
    with pytest.raises(ValueError):
        agent.resume(history=[])
