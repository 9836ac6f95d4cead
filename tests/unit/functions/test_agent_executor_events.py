"""agent_executor's other triggers: EventBridge invocations, S3, SNS, schedules."""

from __future__ import annotations

import json

import pytest

from agentocore.events import EventContractError
from agentocore.models.scripted import text_response
from agentocore.triggers import TriggerError

from .conftest import (
    LambdaContext,
    eventbridge_event,
    http_event,
    install_runtime,
    load_function,
    response_json,
)

fn = load_function("agent_executor")


def invocation(**detail):
    base = {
        "invocation_id": "inv-1",
        "agent_id": "default",
        "conversation_id": "c7",
        "user_message": "Summarize my open orders",
        "user_id": "user-a",
        "priority": "normal",
        "metadata": {},
    }
    return eventbridge_event("AgentInvocationRequested", {**base, **detail}, "agentocore.agent")


def test_invocation_runs_saves_and_publishes_completion(stack):
    model = install_runtime(fn, [text_response("You have no open orders.")])
    out = fn.handler(invocation(), LambdaContext())
    assert out["status"] == "completed" and out["reply"] == "You have no open orders."
    [event] = stack.bus_events("AgentExecutionCompleted")
    detail = event["detail"]
    assert detail["invocation_id"] == "inv-1" and detail["conversation_id"] == "c7"
    assert detail["turn"] == 1 and detail["iterations"] == 1
    assert 0 < detail["elapsed_ms"] < 60_000  # measured, not Lambda's remaining time
    assert detail["usage"]["input_tokens"] == 10
    assert len(model.requests) == 1
    sks = sorted(i["SK"]["S"].split("#")[0] for i in stack.items("CONV#c7"))
    assert sks == ["META", "REQ", "TURN", "TURN"]  # 2 turns and the invocation's receipt


def test_duplicate_invocation_delivery_runs_once(stack):
    model = install_runtime(fn, [text_response("once"), text_response("twice")])
    event = invocation(invocation_id="inv-dup")
    first = fn.handler(event, LambdaContext())
    again = fn.handler(event, LambdaContext())
    assert first == again
    assert len(model.requests) == 1
    assert len([i for i in stack.items("CONV#c7") if i["SK"]["S"].startswith("TURN#")]) == 2
    assert len(stack.bus_events("AgentExecutionCompleted")) == 1


def test_unknown_version_and_invalid_detail_raise_for_the_dlq_path(stack):
    model = install_runtime(fn, [text_response("never")])
    with pytest.raises(EventContractError, match="version 2 is not supported"):
        fn.handler(invocation(version=2, invocation_id="v2"), LambdaContext())
    with pytest.raises(EventContractError, match="conversation_id"):
        fn.handler(invocation(conversation_id="bad id!", invocation_id="bad"), LambdaContext())
    assert model.requests == []
    assert stack.items("CONV#") == []


def test_s3_text_object_starts_a_run(stack):
    model = install_runtime(fn, [text_response("Read your note.")])
    stack.s3.put_object(
        Bucket="agentocore-inbox",
        Key="conversations/inbox-1/note.txt",
        Body=b"Please check order A-1001",
        Metadata={"user-id": "user-a"},
    )
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "agentocore-inbox"},
                    "object": {"key": "conversations/inbox-1/note.txt", "size": 25},
                },
            }
        ]
    }
    out = fn.handler(event, LambdaContext())
    assert [r["conversation_id"] for r in out["runs"]] == ["inbox-1"]
    assert model.requests[0]["messages"][0]["content"] == [{"text": "Please check order A-1001"}]
    meta = fn.runtime().memory.get_meta("inbox-1")
    # the object's metadata names user-a, but uploads are not a trusted identity by default:
    # whoever can write to the bucket would otherwise act as any user
    assert meta.user_id == "s3:agentocore-inbox"


def test_s3_json_object_and_oversized_object(stack):
    install_runtime(fn, [text_response("ok")])
    stack.s3.put_object(
        Bucket="agentocore-inbox",
        Key="uploads/req.json",
        Body=json.dumps({"message": "hello from json", "conversation_id": "json-conv"}).encode(),
    )

    def record(key, size):
        return {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "s3": {
                        "bucket": {"name": "agentocore-inbox"},
                        "object": {"key": key, "size": size},
                    },
                }
            ]
        }

    out = fn.handler(record("uploads/req.json", 60), LambdaContext())
    assert out["runs"][0]["conversation_id"] == "json-conv"
    with pytest.raises(TriggerError, match="limit"):
        fn.handler(record("uploads/huge.txt", 10_000_000), LambdaContext())


def test_sns_message_starts_a_run(stack):
    model = install_runtime(fn, [text_response("Got the alert.")])
    event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ops-alerts",
                    "MessageId": "m-1",
                    "Message": json.dumps(
                        {"message": "Disk almost full", "conversation_id": "ops"}
                    ),
                    "MessageAttributes": {},
                },
            }
        ]
    }
    out = fn.handler(event, LambdaContext())
    assert out["runs"][0]["conversation_id"] == "ops"
    assert model.requests[0]["messages"][0]["content"] == [{"text": "Disk almost full"}]
    assert fn.runtime().memory.get_meta("ops").user_id == "sns:ops-alerts"


def test_scheduled_rule_and_scheduler_input_start_runs(stack):
    model = install_runtime(fn, [text_response("daily report"), text_response("custom")])
    scheduled = {
        "version": "0",
        "id": "sched-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-11-25T09:00:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/agentocore-daily"],
        "detail": {},
    }
    out = fn.handler(scheduled, LambdaContext())
    assert out["conversation_id"] == "schedule-agentocore-daily"
    out = fn.handler(
        {"schedule": {"name": "weekly", "message": "Weekly digest please"}}, LambdaContext()
    )
    assert out["conversation_id"] == "schedule-weekly"
    assert model.requests[1]["messages"][0]["content"] == [{"text": "Weekly digest please"}]
    assert len(stack.bus_events("AgentExecutionCompleted")) == 2


def test_unsupported_events_raise(stack):
    install_runtime(fn, [])
    with pytest.raises(TriggerError):
        fn.handler({"hello": "world"}, LambdaContext())
    with pytest.raises(TriggerError):
        fn.handler(eventbridge_event("SomethingElse", {}, "x"), LambdaContext())


def test_redelivery_after_a_late_failure_answers_from_the_receipt(stack, monkeypatch):
    """The turn ran and requested a refund, then publishing the completion failed (after the
    save committed): EventBridge delivers the invocation again. The redelivery finds the
    request's receipt: no second model call, no second turn or outbox item, the same answer,
    and the completion is published this time."""
    from agentocore.events import PublishError
    from agentocore.models.scripted import tool_use_response

    refund = {"order_id": "A-1001", "reason": "broken"}
    model = install_runtime(
        fn,
        [
            tool_use_response(("first-call", "trigger_refund", refund)),
            text_response("Refund requested."),
            tool_use_response(("another-id", "trigger_refund", refund)),
            text_response("Refund requested again."),
        ],
    )
    publisher = fn.runtime().publisher
    original = publisher.publish
    failures = iter([True])

    def flaky(event):
        if type(event).__name__ == "AgentExecutionCompleted" and next(failures, False):
            raise PublishError("bus unavailable")
        return original(event)

    monkeypatch.setattr(publisher, "publish", flaky)
    event = invocation(invocation_id="inv-late", user_message="Refund order A-1001, broken")
    with pytest.raises(PublishError):
        fn.handler(event, LambdaContext())
    again = fn.handler(event, LambdaContext())  # the redelivery
    assert len(model.requests) == 2  # the first run's two calls only
    assert again["reply"] == "Refund requested." and again["turn"] == 1
    assert [t["name"] for t in again["tool_calls"]] == ["trigger_refund"]
    events = stack.bus_events()
    [completed] = [e for e in events if e["detail-type"] == "AgentExecutionCompleted"]
    assert completed["detail"]["reply"] == "Refund requested."
    [requested] = [e for e in events if e["detail-type"] == "ActionRequested"]
    assert requested["detail"]["requested_by"] == "user-a"
    turns = [i for i in stack.items("CONV#c7") if i["SK"]["S"].startswith("TURN#")]
    assert len(turns) == 4 and len(stack.items("OUTBOX#c7")) == 1


def s3_event(key: str, size: int = 25) -> dict:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "agentocore-inbox"},
                    "object": {"key": key, "size": size},
                },
            }
        ]
    }


def sns_event(message: dict) -> dict:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ops-alerts",
                    "MessageId": "m-1",
                    "Message": json.dumps(message),
                },
            }
        ]
    }


def test_triggers_act_as_their_principal_unless_the_deployment_trusts_their_user_ids(stack):
    """An S3 upload or SNS message naming a user acts as the trigger's principal; with the
    trigger trusted (workspace setting) it acts as that user, validated like a JWT sub."""
    install_runtime(fn, [text_response("ok")] * 4)
    fn.runtime().memory.append(
        "alice-conv",
        [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "hello"}]},
        ],
        expected_turn_count=0,
        user_id="alice",
    )
    # untrusted: the message cannot reach alice's conversation, whatever it claims
    message = {
        "message": "read alice's history",
        "conversation_id": "alice-conv",
        "user_id": "alice",
    }
    from agentocore.memory import ConversationNotFound

    with pytest.raises(ConversationNotFound):
        fn.handler(sns_event(message), LambdaContext())
    assert len(fn.runtime().memory.load("alice-conv", user_id="alice").turns) == 2

    install_runtime(fn, [text_response("ok")] * 4, trusted_user_triggers=["sns"])
    out = fn.handler(sns_event({**message, "conversation_id": "sns-alice"}), LambdaContext())
    assert out["runs"][0]["user_id"] == "alice"
    # a trusted trigger still cannot name an internal key or a principal
    for forged in ("APPROVALS#pending", "s3:agentocore-inbox", "", "x" * 200):
        bad = {"message": "hi", "conversation_id": "sns-bad", "user_id": forged}
        if forged == "":
            assert fn.handler(sns_event(bad), LambdaContext())["runs"][0]["user_id"] == (
                "sns:ops-alerts"
            )
            continue
        with pytest.raises(TriggerError, match="user id"):
            fn.handler(sns_event(bad), LambdaContext())


def test_an_invocation_event_cannot_name_an_internal_key_as_its_user(stack):
    """A crafted user id used to put a conversation into the approvals' index."""
    model = install_runtime(fn, [text_response("ok")])
    event = invocation(user_id="APPROVALS#pending", invocation_id="crafted")
    with pytest.raises(TriggerError, match="user id"):
        fn.handler(event, LambdaContext())
    assert model.requests == [] and stack.items("CONV#") == []
    approvals = load_function("approval_worker")
    install_runtime(approvals, [])
    status, body = response_json(
        approvals.handler(
            http_event("GET", "/approvals", sub="boss", groups="[approvers]"), LambdaContext()
        )
    )
    assert (status, body["approvals"]) == (200, [])
