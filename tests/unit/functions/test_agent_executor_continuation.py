"""agent_executor: a synchronous run over the sync budget becomes 202 + a continuation event."""

from __future__ import annotations

import itertools
import json

import pytest

from agentocore.events import AgentInvocationRequested, EventContractError, PublishError
from agentocore.memory import ConversationNotFound
from agentocore.models import ModelError
from agentocore.models.scripted import text_response, tool_use_response

from ..test_loop_deadline import FakeClock
from .conftest import (
    LambdaContext,
    eventbridge_event,
    http_event,
    install_runtime,
    load_function,
    response_json,
)

fn = load_function("agent_executor")


def call(event):
    return response_json(fn.handler(event, LambdaContext()))


def post(conversation_id, body, **kwargs):
    return call(
        http_event("POST", f"/conversations/{conversation_id}/messages", body=body, **kwargs)
    )


def get(conversation_id, **kwargs):
    return call(http_event("GET", f"/conversations/{conversation_id}", **kwargs))


def refund_call(tid="t1"):
    return tool_use_response(
        (tid, "trigger_refund", {"order_id": "A-1001", "reason": "arrived broken"})
    )


def install(steps, **settings):
    """A runtime whose model plays ``steps``; ``("slow", s, response)`` takes s fake seconds."""
    clock = FakeClock()

    def play(step):
        if isinstance(step, tuple):
            _, seconds, response = step

            def slow(request):
                clock.advance(seconds)
                return response

            return slow
        return step

    model = install_runtime(fn, [play(s) for s in steps], **settings)
    fn.runtime().runner("default").agent.clock = clock
    return model


def continuation_events(stack):
    return [
        e for e in stack.bus_events("AgentInvocationRequested") if e["detail"].get("continuation")
    ]


def as_eventbridge(event):
    return eventbridge_event(event["detail-type"], event["detail"], event["source"])


def marker(stack, conversation_id):
    [meta] = [i for i in stack.items(f"CONV#{conversation_id}") if i["SK"]["S"] == "META"]
    return meta.get("running_invocation", {}).get("S")


def turn_items(stack, conversation_id):
    items = [i for i in stack.items(f"CONV#{conversation_id}") if i["SK"]["S"].startswith("TURN#")]
    return sorted(items, key=lambda i: i["SK"]["S"])


def defer_refund(stack, *, priority="normal", next_steps=()):
    """POST a refund whose first step uses 20 of the 25 s budget: deferred after the tool."""
    model = install([("slow", 20, refund_call()), *next_steps])
    status, body = post("c1", {"message": "Refund order A-1001", "priority": priority})
    assert status == 202, body
    return model, body


def test_a_run_over_the_sync_budget_answers_202_and_continues_from_the_event(stack):
    model, body = defer_refund(
        stack, next_steps=[text_response("Your refund was requested."), text_response("Bye")]
    )
    invocation_id = body["invocation_id"]
    assert body == {
        "conversation_id": "c1",
        "invocation_id": invocation_id,
        "status": "running",
        "turn": 1,
        "result_url": "/conversations/c1?after=0",
        "scheduled": True,
        "iterations": 1,
        "tool_calls": [body["tool_calls"][0]],
        "usage": body["usage"],
        "actions": [body["actions"][0]],
    }
    assert body["tool_calls"][0]["name"] == "trigger_refund"
    assert body["tool_calls"][0]["status"] == "success"
    assert body["actions"][0]["type"] == "RefundOrder"
    assert body["usage"]["input_tokens"] == 10
    # stored: the user message, the toolUse and the toolResults; the continuation is pending
    turns = turn_items(stack, "c1")
    assert [t["role"]["S"] for t in turns] == ["user", "assistant", "user"]
    assert "toolResult" in turns[-1]["content"]["S"]
    assert marker(stack, "c1") == invocation_id
    status, conversation = get("c1")
    assert status == 200
    assert conversation["running_invocation"]["invocation_id"] == invocation_id
    assert conversation["running_invocation"]["since"]
    events = stack.bus_events()
    [refund] = [e for e in events if e["detail-type"] == "ActionRequested"]
    assert refund["detail"]["action_id"] == body["actions"][0]["action_id"]
    [continuation] = [e for e in events if e["detail-type"] == "AgentInvocationRequested"]
    detail = continuation["detail"]
    assert detail["invocation_id"] == invocation_id and detail["continuation"] is True
    assert detail["user_message"] == "" and detail["user_id"] == "user-a"
    assert detail["conversation_id"] == "c1" and detail["agent_id"] == "default"

    # a second message while the continuation is pending: 409, nothing runs or is written
    before = stack.items()
    status, err = post("c1", {"message": "hello?"})
    assert status == 409
    assert err["error"]["code"] == "conversation_busy"
    assert err["error"]["invocation_id"] == invocation_id
    assert stack.items() == before and len(model.requests) == 1

    # the continuation (EventBridge -> agent_executor) finishes the exchange
    out = fn.handler(as_eventbridge(continuation), LambdaContext())
    assert out["status"] == "completed" and out["reply"] == "Your refund was requested."
    assert out["continuation"] is True and out["turn"] == 1
    assert [m["role"] for m in model.requests[1]["messages"]] == ["user", "assistant", "user"]
    status, conversation = get("c1")
    assert conversation["running_invocation"] is None
    roles = [t["role"] for t in conversation["turns"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert conversation["turns"][-1]["content"] == [{"text": "Your refund was requested."}]
    assert conversation["usage"]["input_tokens"] == 20
    events = stack.bus_events()
    [completed] = [e for e in events if e["detail-type"] == "AgentExecutionCompleted"]
    assert completed["detail"]["invocation_id"] == invocation_id
    assert completed["detail"]["continuation"] is True and completed["detail"]["turn"] == 1
    # the refund was requested exactly once across both parts
    assert [e for e in events if e["detail-type"] == "ActionRequested"] == []

    # the deferred part's events were logged (its answer was a 202), then the continuation's:
    # one numbering, one result each, for a client polling GET .../events
    logged = stack.run_events("c1")
    assert [e["seq"] for e in logged] == list(range(1, len(logged) + 1))
    results = [(e["status"], e["run_id"], e["turn"]) for e in logged if e["type"] == "result"]
    # both parts are the exchange that turn 1 (the user's message) opened
    assert results == [("deferred", "c1#turn1", 1), ("completed", invocation_id, 1)]
    assert [e["name"] for e in logged if e["type"] == "tool_use_end"] == ["trigger_refund"]
    assert logged[-1]["text"] == "Your refund was requested."

    # a redelivered continuation does nothing twice
    again = fn.handler(as_eventbridge(continuation), LambdaContext())
    assert again == out
    assert len(model.requests) == 2 and len(turn_items(stack, "c1")) == 4
    assert stack.bus_events() == []

    # and the conversation takes messages again
    status, reply = post("c1", {"message": "thanks"})
    assert status == 200 and reply["turn"] == 5 and reply["reply"] == "Bye"


def test_the_continuation_keeps_the_priority(stack):
    defer_refund(stack, priority="high")
    [event] = continuation_events(stack)
    assert event["detail"]["priority"] == "high"


def test_a_continuation_for_another_invocation_does_nothing(stack):
    model, body = defer_refund(stack, next_steps=[text_response("never")])
    stack.bus_events()
    before = stack.items("CONV#")
    for conversation_id in ("c1", "never-existed"):
        event = eventbridge_event(
            "AgentInvocationRequested",
            {
                "invocation_id": "stale-or-unknown",
                "conversation_id": conversation_id,
                "user_id": "user-a",
                "continuation": True,
            },
            "agentocore.agent",
        )
        out = fn.handler(event, LambdaContext())
        assert out["status"] == "skipped"
    assert stack.items("CONV#") == before
    assert marker(stack, "c1") == body["invocation_id"]
    assert len(model.requests) == 1
    assert stack.bus_events() == []  # no AgentExecutionCompleted for a skipped one


def test_a_failing_continuation_clears_the_mark_with_a_failed_answer(stack):
    defer_refund(
        stack, next_steps=[ModelError("AccessDeniedException: nope"), text_response("ok now")]
    )
    [event] = continuation_events(stack)
    out = fn.handler(as_eventbridge(event), LambdaContext())
    assert out["status"] == "failed" and "AccessDeniedException" in out["error"]
    assert marker(stack, "c1") is None
    turns = turn_items(stack, "c1")
    assert [t["role"]["S"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert json.loads(turns[-1]["content"]["S"]) == [{"text": "[failed]"}]
    [completed] = stack.bus_events("AgentExecutionCompleted")
    assert completed["detail"]["status"] == "failed"
    assert post("c1", {"message": "again"})[0] == 200


def test_a_lost_continuation_is_published_again_once_stale(stack, monkeypatch):
    model = install([("slow", 20, refund_call()), text_response("Refund requested.")])
    publisher = fn.runtime().publisher
    original = publisher.publish

    def failing(*events):
        if any(isinstance(e, AgentInvocationRequested) for e in events):
            raise PublishError("EventBridge rejected 1 entries: InternalFailure")
        return original(*events)

    monkeypatch.setattr(publisher, "publish", failing)
    status, body = post("c1", {"message": "Refund order A-1001"})
    assert status == 202 and body["scheduled"] is False
    invocation_id = body["invocation_id"]
    assert marker(stack, "c1") == invocation_id  # the turns so far are kept
    monkeypatch.setattr(publisher, "publish", original)

    # not stale yet: busy, nothing published
    status, err = post("c1", {"message": "hello?"})
    assert (status, err["error"]["code"]) == (409, "conversation_busy")
    assert continuation_events(stack) == []

    # once older than running_stale_s, the next request publishes it again (same id)
    stack.dynamodb.update_item(
        TableName=stack.table,
        Key={"PK": {"S": "CONV#c1"}, "SK": {"S": "META"}},
        UpdateExpression="SET running_since = :old",
        ExpressionAttributeValues={":old": {"S": "2000-01-01T00:00:00.000Z"}},
    )
    status, err = post("c1", {"message": "hello?"})
    assert (status, err["error"]["code"]) == (409, "conversation_busy")
    assert err["error"]["invocation_id"] == invocation_id
    assert err["error"]["since"] > "2000-01-01T00:00:00.000Z"  # its clock restarted
    [event] = continuation_events(stack)
    assert event["detail"]["invocation_id"] == invocation_id
    # ...once: the clock restarted, so the next request does not publish it again
    assert get("c1")[1]["running_invocation"]["invocation_id"] == invocation_id
    assert continuation_events(stack) == []

    out = fn.handler(as_eventbridge(event), LambdaContext())
    assert out["status"] == "completed"
    assert marker(stack, "c1") is None
    assert len(stack.bus_events("ActionRequested")) == 0  # requested once, before
    assert len(model.requests) == 2


def test_a_stale_continuation_is_also_published_again_by_a_read(stack, monkeypatch):
    install([("slow", 20, refund_call()), text_response("done")])
    publisher = fn.runtime().publisher
    original = publisher.publish

    def down(*events):
        raise PublishError("EventBridge is down")

    monkeypatch.setattr(publisher, "publish", down)
    status, body = post("c1", {"message": "Refund order A-1001"})
    assert status == 202 and body["scheduled"] is False
    monkeypatch.setattr(publisher, "publish", original)
    stack.dynamodb.update_item(
        TableName=stack.table,
        Key={"PK": {"S": "CONV#c1"}, "SK": {"S": "META"}},
        UpdateExpression="SET running_since = :old",
        ExpressionAttributeValues={":old": {"S": "2000-01-01T00:00:00.000Z"}},
    )
    status, conversation = get("c1")
    assert status == 200
    assert conversation["running_invocation"]["invocation_id"] == body["invocation_id"]
    [event] = continuation_events(stack)
    assert event["detail"]["invocation_id"] == body["invocation_id"]


def test_another_user_cannot_see_or_resume_a_pending_continuation(stack):
    model, body = defer_refund(stack, next_steps=[text_response("never")])
    [event] = continuation_events(stack)
    before = stack.items()
    status, err = get("c1", sub="user-b")
    assert (status, err["error"]["code"]) == (404, "not_found")
    assert "invocation_id" not in err["error"]
    # not 409: the busy state of someone else's conversation is not disclosed
    status, err = post("c1", {"message": "let me in"}, sub="user-b")
    assert (status, err["error"]["code"]) == (404, "not_found")
    forged = as_eventbridge(event)
    forged["detail"] = {**forged["detail"], "user_id": "user-b"}
    with pytest.raises(ConversationNotFound):
        fn.handler(forged, LambdaContext())
    # nothing changed but the refused call's idempotency record, left expired (not deleted)
    [refused] = [i for i in stack.items() if i not in before]
    assert refused["PK"]["S"].startswith("idempotency#agent_executor#")
    assert refused["ttl"] == {"N": "1"}
    assert [i for i in stack.items() if i != refused] == before
    assert marker(stack, "c1") == body["invocation_id"] and len(model.requests) == 1


def test_async_messages_are_refused_while_busy(stack):
    defer_refund(stack)
    stack.bus_events()
    status, err = post("c1", {"message": "later", "async": True})
    assert (status, err["error"]["code"]) == (409, "conversation_busy")
    assert stack.bus_events("AgentInvocationRequested") == []


def test_a_continuation_set_while_the_run_was_thinking_makes_it_busy(stack):
    def sneak(request):
        # another request on the conversation deferred (and marked it) meanwhile
        memory = fn.runtime().memory
        memory.append(
            "c1",
            [{"role": "user", "content": [{"text": "other"}]}],
            expected_turn_count=2,
            user_id="user-a",
        )
        stack.dynamodb.update_item(
            TableName=stack.table,
            Key={"PK": {"S": "CONV#c1"}, "SK": {"S": "META"}},
            UpdateExpression="SET running_invocation = :i, running_since = :s",
            ExpressionAttributeValues={
                ":i": {"S": "other-invocation"},
                ":s": {"S": "2099-01-01T00:00:00.000Z"},
            },
        )
        return text_response("mine")

    install([text_response("first"), sneak])
    assert post("c1", {"message": "first"})[0] == 200
    status, err = post("c1", {"message": "second"})
    assert (status, err["error"]["code"]) == (409, "conversation_busy")
    assert err["error"]["invocation_id"] == "other-invocation"
    assert len(turn_items(stack, "c1")) == 3  # this run's turns were not appended


def test_a_fast_run_still_answers_200(stack):
    install([("slow", 3, refund_call()), ("slow", 3, text_response("Refund requested."))])
    status, body = post("c1", {"message": "Refund order A-1001"})
    assert status == 200 and body["status"] == "completed"
    assert body["reply"] == "Refund requested." and "invocation_id" not in body
    assert marker(stack, "c1") is None
    assert get("c1")[1]["running_invocation"] is None
    assert stack.bus_events("AgentInvocationRequested") == []


def test_a_zero_sync_budget_never_defers(stack):
    install(
        [("slow", 100, refund_call()), ("slow", 100, text_response("Refund requested."))],
        sync_budget_s=0,
    )
    status, body = post("c1", {"message": "Refund order A-1001"})
    assert status == 200 and body["reply"] == "Refund requested."
    assert marker(stack, "c1") is None


def test_a_continuation_with_a_message_or_a_normal_one_without_is_rejected(stack):
    model = install_runtime(fn, [text_response("never")])
    base = {"invocation_id": "i-1", "conversation_id": "c1", "user_id": "user-a"}
    for detail, problem in (
        ({**base, "continuation": True, "user_message": "hi"}, "no user_message"),
        (base, "user_message is required"),
    ):
        event = eventbridge_event("AgentInvocationRequested", detail, "agentocore.agent")
        with pytest.raises(EventContractError, match=problem):
            fn.handler(event, LambdaContext())
    assert model.requests == [] and stack.items("CONV#") == []


def test_a_throttled_continuation_publish_answers_202_not_scheduled(stack, monkeypatch):
    """Found by the fault suite (seed 150): PutEvents throttled after botocore's retries raised
    ClientError past the continuation's handling: a 503 for a run whose deferred save had
    committed, and the client's retry met 409 conversation_busy. Any PutEvents failure is a
    PublishError: 202 with scheduled false, as documented."""
    from botocore.exceptions import ClientError

    install([("slow", 20, refund_call()), text_response("Refund requested.")])
    publisher = fn.runtime().publisher
    client = publisher.client

    class Throttled:
        def put_events(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "PutEvents",
            )

    monkeypatch.setattr(publisher._client, "get", lambda: Throttled())
    status, body = post("c1", {"message": "Refund order A-1001"})
    assert status == 202 and body["scheduled"] is False
    assert marker(stack, "c1") == body["invocation_id"]
    monkeypatch.setattr(publisher._client, "get", lambda: client)
