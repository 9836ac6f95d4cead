"""The offline rules model: deterministic tool choice and answers from tool results."""

from __future__ import annotations

from pathlib import Path

from agentocore import Agent, create_model
from agentocore.events import CollectingActionSink
from agentocore.models.rules import HELP, RulesModel
from agentocore.tools import ToolContext

ROOT = Path(__file__).resolve().parents[2]


def example_tools():
    from example_app import tools

    return tools()


def agent(sink=None):
    return Agent(create_model("rules:v1"), example_tools(), action_sink=sink)


def test_registered_as_rules():
    model = create_model("rules:v1")
    assert isinstance(model, RulesModel) and model.model_id == "rules:v1"


def test_order_status_question():
    result = agent().run("What's the status of order A-1001?")
    assert result.status == "completed"
    assert [c.name for c in result.tool_calls] == ["get_order_status"]
    assert result.final_text == "Order A-1001 (Coffee grinder) is delivered; it was 50.00 USD."
    assert result.usage.input_tokens > 100 and result.usage.output_tokens > 0
    assert result.cost_usd == 0.0


def test_refund_request_emits_an_action():
    sink = CollectingActionSink()
    result = agent(sink).run(
        "Refund order A-2002, it arrived broken", context=ToolContext(conversation_id="c1")
    )
    assert [c.name for c in result.tool_calls] == ["trigger_refund"]
    [action] = sink.actions
    assert action.type == "RefundOrder"
    assert action.detail["payload"]["amount"] == 5000.0
    assert "I've requested the refund" in result.final_text
    assert action.action_id in result.final_text


def test_weather_and_help_and_errors():
    result = agent().run("What's the weather in Paris?")
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    assert result.final_text.startswith("In Paris it is ")
    assert agent().run("hello there").final_text == HELP
    result = agent().run("What's the status of order Z-9999?")
    assert "order Z-9999 does not exist" in result.final_text


def test_tool_use_ids_differ_across_turns_so_action_ids_do_not_collide():
    sink = CollectingActionSink()
    a = agent(sink)
    ctx = ToolContext(conversation_id="c1")
    first = a.run("Refund order A-1001, broken", context=ctx)
    second = a.run("Refund order A-1001, broken", history=first.messages, context=ctx)
    assert len({x.action_id for x in sink.actions}) == 2
    assert second.status == "completed"


def test_only_offered_tools_are_called():
    model = RulesModel()
    response = model.converse(
        {"messages": [{"role": "user", "content": [{"text": "Refund order A-1001"}]}]}
    )
    assert response["stopReason"] == "end_turn"
    assert response["output"]["message"]["content"][0]["text"] == HELP


def test_cancel_subscription_requests_an_action_that_always_needs_approval():
    sink = CollectingActionSink()
    result = agent(sink).run(
        "Please cancel subscription S-1001, too expensive",
        context=ToolContext(conversation_id="c2", user_id="u2"),
    )
    assert [c.name for c in result.tool_calls] == ["cancel_subscription"]
    [action] = sink.actions
    assert action.type == "CancelSubscription"
    assert action.detail["payload"]["subscription_id"] == "S-1001"
    assert action.detail["requested_by"] == "u2"
    assert "A human approves every cancellation" in result.final_text
    again = agent(sink).run("Cancel S-2002 now", context=ToolContext(conversation_id="c3"))
    assert "already cancelled" in again.final_text and len(sink.actions) == 1


def test_tracking_goes_to_track_shipment_but_where_is_stays_order_status():
    model = RulesModel()

    def first_tool(text, tools=("get_order_status", "track_shipment", "trigger_refund")):
        request = {
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": n}} for n in tools]},
        }
        content = model.converse(request)["output"]["message"]["content"]
        return next(
            (b["toolUse"]["name"], b["toolUse"]["input"]) for b in content if "toolUse" in b
        )

    assert first_tool("Where is order A-1001?") == ("get_order_status", {"order_id": "A-1001"})
    assert first_tool("Has order A-3003 shipped?")[0] == "get_order_status"
    assert first_tool("Can you track A-4004 for me")[0] == "track_shipment"
    assert first_tool("Tracking number of order A-3003?") == (
        "track_shipment",
        {"order_id": "A-3003"},
    )
    assert first_tool("Refund A-1001, the tracking said delivered but it never came")[0] == (
        "trigger_refund"
    )
    assert first_tool("Track A-1001", tools=("get_order_status",))[0] == "get_order_status"
