"""agent_executor over API Gateway HTTP API events: every route and error code."""

from __future__ import annotations

import json

import pytest

from agentocore.models import ModelError
from agentocore.models.scripted import text_response, tool_use_response

from .conftest import LambdaContext, http_event, install_runtime, load_function, response_json

fn = load_function("agent_executor")


def call(event):
    return response_json(fn.handler(event, LambdaContext()))


def post(conversation_id, body=None, **kwargs):
    return call(
        http_event("POST", f"/conversations/{conversation_id}/messages", body=body, **kwargs)
    )


def test_post_message_runs_the_agent_and_saves_the_turns(stack, capsys):
    model = install_runtime(
        fn,
        [
            tool_use_response(("t1", "get_order_status", {"order_id": "A-1001"}), input_tokens=900),
            text_response("Order A-1001 (Coffee grinder) was delivered.", input_tokens=1000),
        ],
    )
    status, body = post("c1", {"message": "What's the status of order A-1001?"})
    assert status == 200
    assert body["conversation_id"] == "c1"
    assert body["turn"] == 1
    assert body["reply"] == "Order A-1001 (Coffee grinder) was delivered."
    assert (body["status"], body["stop_reason"], body["iterations"]) == ("completed", "end_turn", 2)
    assert [(t["name"], t["status"]) for t in body["tool_calls"]] == [
        ("get_order_status", "success")
    ]
    assert body["usage"]["input_tokens"] == 1900
    assert body["usage"]["cost_usd"] == pytest.approx((1900 * 3 + 10 * 15) / 1e6)
    assert body["actions"] == []
    result = model.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert result["content"][0]["json"]["status"] == "delivered"
    turns = stack.items("CONV#c1")
    assert len([i for i in turns if i["SK"]["S"].startswith("TURN#")]) == 4
    # EMF metrics with the AgentId dimension went to stdout
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    metric_doc = next(d for d in emf if "CostUSD" in d)
    assert metric_doc["AgentId"] == "default"
    assert metric_doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["AgentId"]]
    assert metric_doc["CostUSD"] == [pytest.approx(body["usage"]["cost_usd"])]
    names = {m["Name"] for m in metric_doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {
        "ExecutionTime",
        "Iterations",
        "ToolCalls",
        "ToolErrors",
        "InputTokens",
        "OutputTokens",
        "CacheReadTokens",
        "CostUSD",
    }
    assert metric_doc["Iterations"] == [2.0]


def test_refund_tool_reports_the_requested_action(stack):
    install_runtime(
        fn,
        [
            tool_use_response(
                ("t1", "trigger_refund", {"order_id": "A-1001", "reason": "arrived broken"})
            ),
            text_response("I've requested your refund."),
        ],
    )
    status, body = post("c1", {"message": "Refund order A-1001, it arrived broken"})
    assert status == 200
    [action] = body["actions"]
    assert action["type"] == "RefundOrder" and action["status"] == "requested"
    [event] = stack.bus_events("ActionRequested")
    assert event["source"] == "agentocore.actions"
    assert event["detail"]["action_id"] == action["action_id"]
    assert event["detail"]["payload"]["amount"] == 50.0
    assert event["detail"]["requested_by"] == "user-a"
    assert event["detail"]["action_type"] == "RefundOrder"
    assert event["detail"]["conversation_id"] == "c1"


def test_async_message_returns_202_and_publishes_an_invocation(stack):
    model = install_runtime(fn, [])
    status, body = post("c2", {"message": "Do it later", "async": True, "priority": "high"})
    assert status == 202
    assert body["conversation_id"] == "c2" and body["invocation_id"]
    [event] = stack.bus_events("AgentInvocationRequested")
    assert event["detail"]["invocation_id"] == body["invocation_id"]
    assert event["detail"]["priority"] == "high"
    assert event["detail"]["user_id"] == "user-a"
    assert model.requests == []
    assert stack.items("CONV#") == []


def test_get_conversation_and_list_my_conversations(stack):
    install_runtime(fn, [text_response("one"), text_response("two"), text_response("three")])
    post("a1", {"message": "first"})
    post("a2", {"message": "second"})
    post("b1", {"message": "other user"}, sub="user-b")
    status, body = call(http_event("GET", "/conversations/a1"))
    assert status == 200
    assert [t["role"] for t in body["turns"]] == ["user", "assistant"]
    assert body["turns"][0]["content"] == [{"text": "first"}]
    assert body["usage"]["input_tokens"] == 10 and body["turn_count"] == 2
    status, page = call(http_event("GET", "/users/me/conversations", query={"limit": "1"}))
    assert status == 200
    assert [c["conversation_id"] for c in page["conversations"]] == ["a2"]
    assert page["next_token"]
    status, page2 = call(
        http_event(
            "GET", "/users/me/conversations", query={"limit": "1", "next_token": page["next_token"]}
        )
    )
    assert [c["conversation_id"] for c in page2["conversations"]] == ["a1"]
    # another user's paging token is refused
    status, err = call(
        http_event(
            "GET",
            "/users/me/conversations",
            query={"next_token": page["next_token"]},
            sub="user-b",
        )
    )
    assert status == 400 and err["error"]["code"] == "invalid_token"


def test_identity_isolation_is_404_for_reads_and_writes(stack):
    install_runtime(fn, [text_response("hi A")])
    post("private", {"message": "my secret"})
    before = stack.items()
    status, err = call(http_event("GET", "/conversations/private", sub="user-b"))
    assert status == 404 and err["error"]["code"] == "not_found"
    status, err = post("private", {"message": "let me in"}, sub="user-b")
    assert status == 404
    status, err = post("private", {"message": "later", "async": True}, sub="user-b")
    assert status == 404
    status, err = call(http_event("GET", "/conversations/never-existed"))
    assert status == 404
    assert stack.items() == before


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"raw_body": "{not json"}, 400, "malformed_json"),
        ({"raw_body": "[1, 2]"}, 400, "bad_request"),
        ({"body": {}}, 400, "invalid_request"),
        ({"body": {"message": ""}}, 400, "invalid_request"),
        ({"body": {"message": "hi", "priority": "urgent"}}, 400, "invalid_request"),
        ({"body": {"message": "hi", "user_id": "someone-else"}}, 400, "invalid_request"),
        ({"body": {"message": "hi", "agent_id": "nope"}}, 400, "unknown_agent"),
        ({"body": {"message": "x" * 16385}}, 413, "message_too_large"),
        ({"body": {"message": "hi"}, "sub": None}, 401, "unauthorized"),
    ],
)
def test_rejected_requests_write_nothing(stack, kwargs, status, code):
    model = install_runtime(fn, [text_response("never")])
    got, err = post("c1", **kwargs)
    assert (got, err["error"]["code"]) == (status, code)
    assert err["error"]["message"]
    assert stack.items() == []
    assert model.requests == []


def test_invalid_conversation_id_is_400(stack):
    install_runtime(fn, [])
    status, err = post("bad.id!", {"message": "hi"})
    assert (status, err["error"]["code"]) == (400, "invalid_conversation_id")
    status, err = post("x" * 65, {"message": "hi"})
    assert status == 400


def test_budget_exhausted_is_429_and_writes_nothing(stack):
    install_runtime(
        fn,
        [text_response("costly", input_tokens=600, output_tokens=0), text_response("never")],
        budget_max_tokens=500,
    )
    assert post("c1", {"message": "first"})[0] == 200
    before = stack.items()
    status, err = post("c1", {"message": "second"})
    assert (status, err["error"]["code"]) == (429, "budget_exceeded")
    assert "token budget exhausted" in err["error"]["message"]
    status, err = post("c1", {"message": "async too", "async": True})
    assert status == 429
    assert stack.items() == before
    assert stack.bus_events("AgentInvocationRequested") == []


def test_model_failure_is_502(stack):
    install_runtime(fn, [ModelError("AccessDeniedException: not allowed")])
    status, err = post("c1", {"message": "hi"})
    assert (status, err["error"]["code"]) == (502, "model_failure")
    assert "AccessDeniedException" in err["error"]["message"]
    assert stack.items() == []  # no state; a watcher is told how the run ended:
    [ended] = stack.run_events("c1")
    assert (ended["type"], ended["status"], ended["seq"]) == ("result", "failed", 1)
    assert "AccessDeniedException" in ended["error"]


def test_turn_conflict_after_retries_is_409(stack):
    def sneak(request):
        fn.runtime().memory.append(
            "c1",
            [
                {"role": "user", "content": [{"text": "other"}]},
                {"role": "assistant", "content": [{"text": "other"}]},
            ],
            expected_turn_count=fn.runtime().memory.get_meta("c1").turn_count,
            user_id="user-a",
        )
        return text_response("mine")

    install_runtime(fn, [sneak])
    fn.runtime().runner("default").conflict_retries = 0
    status, err = post("c1", {"message": "mine"})
    assert (status, err["error"]["code"]) == (409, "turn_conflict")


def test_unknown_route_is_a_json_404(stack):
    install_runtime(fn, [])
    status, err = call(http_event("GET", "/nope"))
    assert status == 404 and err["error"]["code"] == "not_found"


def test_tool_set_and_prompt_are_configurable_per_agent(stack):
    agents = {"support": {"tools": ["get_order_status"], "system_prompt": "You are support."}}
    model = install_runtime(fn, [text_response("hi"), text_response("hello")], agents=agents)
    assert post("s1", {"message": "hi", "agent_id": "support"})[0] == 200
    support_request = model.requests[0]
    assert [t["toolSpec"]["name"] for t in support_request["toolConfig"]["tools"]] == [
        "get_order_status"
    ]
    assert support_request["system"][0]["text"] == "You are support."
    assert post("d1", {"message": "hi"})[0] == 200  # the default agent has every tool
    names = {t["toolSpec"]["name"] for t in model.requests[1]["toolConfig"]["tools"]}
    assert names == {
        "get_order_status", "trigger_refund", "cancel_subscription", "track_shipment", "get_weather"
    }  # fmt: skip
    assert fn.runtime().memory.get_meta("s1").agent_id == "support"


def test_a_failing_backing_service_is_a_json_503_not_a_bare_500(stack, monkeypatch):
    """Found by the fault suite: a DynamoDB error after botocore's retries escaped the
    resolver and API Gateway answered a bare 500. Transient AWS failures are a JSON 503 the
    client may retry (same Idempotency-Key); anything else a JSON 500. Nothing is stored."""
    from botocore.exceptions import ClientError, ReadTimeoutError

    install_runtime(fn, [text_response("never")])
    memory = fn.runtime().memory
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "GetItem",
    )
    for failure, expected in (
        (throttled, (503, "service_unavailable")),
        (ReadTimeoutError(endpoint_url="https://dynamodb"), (503, "service_unavailable")),
        (RuntimeError("bug"), (500, "internal_error")),
    ):

        def fail(*args, _failure=failure, **kwargs):
            raise _failure

        monkeypatch.setattr(memory, "get_meta", fail)
        status, body = post("c-down", {"message": "hello"})
        assert (status, body["error"]["code"]) == expected
        status, body = call(http_event("GET", "/conversations/c-down"))
        assert (status, body["error"]["code"]) == expected
    assert stack.items("CONV#") == []
