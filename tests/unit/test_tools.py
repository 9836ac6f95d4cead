"""Tool registry: schemas from Pydantic; every failure is a toolResult error the model can read."""

from __future__ import annotations

import json
import threading

import pytest
from pydantic import BaseModel, Field

from agentocore import Agent, Settings, ToolContext, ToolRegistry
from agentocore.events import CollectingActionSink, action_id_for
from agentocore.models import ScriptedModel
from agentocore.models.scripted import text_response, tool_use_response
from agentocore.tools import ToolExecutor

from .sample_tools import WeatherInput, build_registry
from .sample_tools import actions as sample_actions


def run_one(registry, name, tool_input, ctx=None):
    executor = ToolExecutor(registry)
    [outcome] = executor.execute(
        [{"toolUseId": "tu_1", "name": name, "input": tool_input}], ctx or ToolContext()
    )
    return outcome


def error_text(outcome):
    result = outcome.result["toolResult"]
    assert result["status"] == "error"
    assert result["toolUseId"] == "tu_1"
    return result["content"][0]["text"]


def test_tool_spec_is_generated_from_the_pydantic_model():
    registry = build_registry()
    spec = registry.get("get_weather").spec["toolSpec"]
    assert spec["name"] == "get_weather"
    assert spec["description"] == "Get the current weather for a city."
    schema = spec["inputSchema"]["json"]
    assert schema["type"] == "object"
    assert schema["required"] == ["location"]
    assert schema["properties"]["location"]["description"] == "City name, e.g. 'San Francisco'"
    assert schema["properties"]["units"]["enum"] == ["celsius", "fahrenheit"]
    json.dumps(registry.specs())  # JSON-serializable as sent to Converse


def test_registration_rejects_bad_names_and_missing_models():
    registry = ToolRegistry()
    with pytest.raises(ValueError, match="must match"):
        registry.add(lambda a: a, name="bad name!", input_model=WeatherInput, description="x")

    def untyped(args):
        """Doc."""

    with pytest.raises(TypeError, match="input_model"):
        registry.add(untyped)

    class NoDoc(BaseModel):
        x: int

    def nodoc(args: NoDoc) -> str:
        return ""

    with pytest.raises(ValueError, match="description"):
        registry.add(nodoc, input_model=NoDoc)


def test_unknown_tool_lists_the_valid_names():
    outcome = run_one(build_registry(), "get_wether", {"location": "Oslo"})
    text = error_text(outcome)
    assert outcome.status == "unknown_tool"
    assert "unknown tool 'get_wether'" in text
    assert "get_weather" in text and "get_order_status" in text


def test_invalid_input_names_the_field_and_shows_the_schema():
    outcome = run_one(build_registry(), "get_weather", {"units": "kelvin"})
    text = error_text(outcome)
    assert outcome.status == "invalid_input"
    assert "- location: Field required" in text
    assert "- units:" in text and '(got: "kelvin")' in text
    assert "Expected input schema:" in text and '"location"' in text


def test_tool_exception_becomes_an_error_result():
    outcome = run_one(build_registry(), "explode", {"label": "x"})
    assert outcome.status == "error"
    assert "RuntimeError: database unavailable" in error_text(outcome)


def test_tool_error_message_goes_to_the_model_verbatim():
    outcome = run_one(build_registry(), "get_order_status", {"order_id": "Z-9999"})
    assert "order Z-9999 does not exist" in error_text(outcome)


def test_invalid_output_is_reported():
    outcome = run_one(build_registry(), "bad_output", {"label": "x"})
    assert outcome.status == "invalid_output"
    text = error_text(outcome)
    assert "returned invalid output" in text and "temperature" in text


def test_timeout_becomes_an_error_result():
    outcome = run_one(build_registry(), "slow", {"seconds": 2})
    assert outcome.status == "timeout"
    assert "longer than 0.2s" in error_text(outcome)


def test_output_model_validates_success():
    outcome = run_one(build_registry(), "get_weather", {"location": "Oslo", "units": "fahrenheit"})
    assert outcome.status == "success"
    assert outcome.result["toolResult"]["content"] == [
        {"json": {"temperature": 70.7, "conditions": "Sunny", "humidity": 40}}
    ]


def test_action_tool_requests_an_action_with_a_deterministic_id():
    ctx = ToolContext(conversation_id="c1", user_id="u1")
    outcome = run_one(
        build_registry(), "trigger_refund", {"order_id": "A-1001", "reason": "broken"}, ctx
    )
    assert outcome.status == "success"
    action = outcome.action
    assert action is not None
    assert action.type == "RefundRequested"
    assert action.action_id == action_id_for("c1", "tu_1")
    assert action.detail == {
        "version": 1,
        "action_type": "RefundRequested",
        "action_id": action.action_id,
        "payload_version": 1,
        "payload": {"order_id": "A-1001", "amount": 50.0, "currency": "USD"},
        "conversation_id": "c1",
        "requested_by": "u1",
        "agent_id": None,
    }
    ack = outcome.result["toolResult"]["content"][0]["json"]
    assert ack["status"] == "requested" and ack["action_id"] == action.action_id
    # the same tool call again (e.g. a retried request) yields the same action id
    again = run_one(
        build_registry(), "trigger_refund", {"order_id": "A-1001", "reason": "broken"}, ctx
    )
    assert again.action.action_id == action.action_id


def test_the_executor_publishes_nothing_the_agent_publishes_after_the_run():
    """Standalone agent: the sink sees the run's actions once the run is over, not before."""
    seen_during_run: list[int] = []
    sink = CollectingActionSink()

    def answer(request):
        seen_during_run.append(len(sink.actions))  # the tool already ran
        return text_response("Refund requested.")

    model = ScriptedModel(
        [
            tool_use_response(("t1", "trigger_refund", {"order_id": "A-1001", "reason": "broken"})),
            answer,
        ]
    )
    agent = Agent(model, build_registry(), action_sink=sink)
    result = agent.run("refund A-1001", context=ToolContext(conversation_id="c1"))
    assert seen_during_run == [0]
    assert [a.action_id for a in sink.actions] == [a.action_id for a in result.actions]
    assert len(result.actions) == 1


def test_a_failing_standalone_sink_raises_after_the_run():
    class Failing:
        def publish(self, actions):
            raise ConnectionError("bus down")

    model = ScriptedModel(
        [
            tool_use_response(("t1", "trigger_refund", {"order_id": "A-1001", "reason": "broken"})),
            text_response("done"),
        ]
    )
    agent = Agent(model, build_registry(), action_sink=Failing())
    with pytest.raises(ConnectionError):
        agent.run("refund A-1001")


def test_self_healing_cycle_invalid_input_error_corrected_call_success():
    """invalid input -> error toolResult -> the model corrects its call -> success."""

    def corrected_call(request):
        # The model reads the error toolResult and fixes the call.
        last = request["messages"][-1]["content"][0]["toolResult"]
        assert last["status"] == "error"
        assert "location: Field required" in last["content"][0]["text"]
        return tool_use_response(("t2", "get_weather", {"location": "Oslo", "units": "celsius"}))

    model = ScriptedModel(
        [
            tool_use_response(("t1", "get_weather", {"city": "Oslo", "units": "kelvin"})),
            corrected_call,
            text_response("It is 21.5°C and sunny in Oslo."),
        ]
    )
    result = Agent(model, build_registry()).run("Weather in Oslo?")
    assert result.status == "completed"
    assert [(c.name, c.status) for c in result.tool_calls] == [
        ("get_weather", "invalid_input"),
        ("get_weather", "success"),
    ]
    final_tool_result = model.requests[2]["messages"][-1]["content"][0]["toolResult"]
    assert final_tool_result["status"] == "success"
    assert final_tool_result["content"][0]["json"]["temperature"] == 21.5


def test_parallel_tool_uses_run_concurrently_and_return_in_order():
    barrier = threading.Barrier(3)  # only passes if all three calls run at the same time
    registry = build_registry(barrier)
    model = ScriptedModel(
        [
            tool_use_response(
                ("t_c", "rendezvous", {"label": "c"}),
                ("t_a", "rendezvous", {"label": "a"}),
                ("t_b", "rendezvous", {"label": "b"}),
            ),
            text_response("done"),
        ]
    )
    result = Agent(model, registry, settings=Settings(tool_concurrency=3)).run("go")
    assert result.status == "completed"
    results_message = model.requests[1]["messages"][-1]
    assert results_message["role"] == "user"
    ids = [b["toolResult"]["toolUseId"] for b in results_message["content"]]
    assert ids == ["t_c", "t_a", "t_b"]  # ONE user message, original order
    texts = [b["toolResult"]["content"][0]["text"] for b in results_message["content"]]
    assert texts == ["met:c", "met:a", "met:b"]
    assert all(c.status == "success" for c in result.tool_calls)


def test_mixed_outcomes_in_one_message_keep_order_and_pairing():
    model = ScriptedModel(
        [
            tool_use_response(
                ("t1", "slow", {"seconds": 1.0}),
                ("t2", "nope", {}),
                ("t3", "get_weather", {"location": "Rome"}),
                ("t4", "explode", {"label": "x"}),
            ),
            text_response("done"),
        ]
    )
    result = Agent(model, build_registry()).run("go")
    statuses = [(c.tool_use_id, c.status) for c in result.tool_calls]
    assert statuses == [
        ("t1", "timeout"),
        ("t2", "unknown_tool"),
        ("t3", "success"),
        ("t4", "error"),
    ]
    blocks = model.requests[1]["messages"][-1]["content"]
    assert [b["toolResult"]["toolUseId"] for b in blocks] == ["t1", "t2", "t3", "t4"]


def test_subset_registry_for_per_agent_tool_sets():
    registry = build_registry()
    sub = registry.subset(["get_weather"])
    assert sub.names == ["get_weather"]
    with pytest.raises(KeyError, match="unknown tool"):
        registry.subset(["missing"])


def test_tool_with_context_sees_conversation_and_user():
    seen = {}
    registry = ToolRegistry()

    class In(BaseModel):
        q: str = Field(description="query")

    @registry.tool(input_model=In)
    def whoami(args: In, ctx: ToolContext) -> str:
        """Report the caller."""
        seen.update(user=ctx.user_id, conv=ctx.conversation_id, tu=ctx.tool_use_id)
        return "ok"

    run_one(registry, "whoami", {"q": "x"}, ctx=ToolContext(conversation_id="c9", user_id="u9"))
    assert seen == {"user": "u9", "conv": "c9", "tu": "tu_1"}


class _ActionArgs(BaseModel):
    order_id: str


def _action_registry(func, timeout_s=None):
    registry = ToolRegistry(actions=sample_actions)
    registry.tool(
        name="request_it", emits="RefundRequested", timeout_s=timeout_s, description="Request."
    )(func)
    return registry


def test_requested_by_is_the_runs_identity_whatever_the_tool_returns():
    """The README's refund tool returns no user id; a tool may even name someone else."""

    def impersonating(args: _ActionArgs) -> dict:
        return {"order_id": args.order_id, "amount": 5000, "requested_by": "approver"}

    ctx = ToolContext(conversation_id="c1", user_id="alice")
    outcome = run_one(_action_registry(impersonating), "request_it", {"order_id": "A-1"}, ctx)
    assert outcome.action.detail["requested_by"] == "alice"
    # no identity in the run: the field is present and empty, never the tool's value
    outcome = run_one(_action_registry(impersonating), "request_it", {"order_id": "A-1"})
    assert outcome.action.detail["requested_by"] is None


def test_action_tool_returning_a_non_mapping_is_a_tool_error_not_a_crash():
    def wrong(args: _ActionArgs) -> list:
        return [args.order_id]

    outcome = run_one(_action_registry(wrong), "request_it", {"order_id": "A-1"})
    assert outcome.status == "invalid_output"
    assert "must return the action's payload" in error_text(outcome)
    assert outcome.action is None


def test_timed_out_action_tool_publishes_nothing_when_it_finishes_late():
    released = threading.Event()
    finished = threading.Event()

    def late(args: _ActionArgs) -> dict:
        released.wait(5)
        finished.set()
        return {"order_id": args.order_id, "amount": 50}

    registry = _action_registry(late, timeout_s=0.1)
    executor = ToolExecutor(registry)
    late_outcomes: list = []
    original = executor._emit

    def record_emit(*args):
        late_outcomes.append(original(*args))
        return late_outcomes[-1]

    executor._emit = record_emit
    [outcome] = executor.execute(
        [{"toolUseId": "tu_1", "name": "request_it", "input": {"order_id": "A-1"}}],
        ToolContext(conversation_id="c1", user_id="alice"),
    )
    assert outcome.status == "timeout" and outcome.action is None
    released.set()  # the tool returns after the model was told the call was abandoned
    executor.shutdown(wait=True)  # the late call has run to its end
    assert finished.is_set()
    # the late result reached _emit after the abandonment: no action, reported as a timeout
    [(status, _block, _error, action)] = late_outcomes
    assert status == "timeout" and action is None


def test_an_action_that_breaks_its_event_contract_is_a_tool_error_and_not_published():
    def negative(args: _ActionArgs) -> dict:
        return {"order_id": args.order_id, "amount": -5}

    ctx = ToolContext(conversation_id="c1", user_id="alice")
    outcome = run_one(_action_registry(negative), "request_it", {"order_id": "A-1"}, ctx)
    assert outcome.status == "invalid_output" and outcome.action is None
    assert "amount" in error_text(outcome) and "would refuse" in error_text(outcome)
