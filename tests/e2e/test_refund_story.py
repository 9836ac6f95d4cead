"""The e2e scenarios, all through the deployed system on the emulator."""

from __future__ import annotations

import json
import uuid

from ..action_events import action_entry, refund_entry, save
from .conftest import item, turns, wait_for


def put_refund(aws, outputs, action_id, order_id="A-1001", amount=50):
    """A refund a turn requested: saved to the outbox, published by the relay, and delivered
    once more by hand (as EventBridge may redeliver)."""
    entry = refund_entry(outputs["event_bus_name"], action_id, order_id=order_id, amount=amount)
    save(aws, outputs["table_name"], entry)
    aws("events").put_events(Entries=[entry])


def failure_of(aws, outputs, alert):
    """The failure record an alert points to, with its original event decoded."""
    failure = item(aws, outputs, alert["failure_key"]["PK"], alert["failure_key"]["SK"])
    return failure, json.loads(failure["original"]["S"])


def test_1_order_status_question(api, aws, outputs):
    status, body = api.call(
        "POST", "/conversations/e2e-1/messages", {"message": "What's the status of order A-1001?"}
    )
    assert status == 200, body
    assert body["reply"] == "Order A-1001 (Coffee grinder) is delivered; it was 50.00 USD."
    assert [t["name"] for t in body["tool_calls"]] == ["get_order_status"]
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    assert len(turns(aws, outputs, "e2e-1")) == 4


def test_2_small_refund_is_performed_once(api, aws, outputs, captures):
    status, body = api.call(
        "POST",
        "/conversations/e2e-2/messages",
        {"message": "Refund order A-1001, it arrived broken"},
    )
    assert status == 200, body
    [action] = body["actions"]
    refund = wait_for(lambda: item(aws, outputs, f"REFUND#{action['action_id']}"))
    assert refund and float(refund["amount"]["N"]) == 50
    done = captures["bus"].find(
        lambda e: (
            e.get("detail-type") == "ActionCompleted"
            and e["detail"]["action_id"] == action["action_id"]
        )
    )
    assert done is not None


def test_3_large_refund_needs_an_approval(api, aws, outputs, captures):
    status, body = api.call(
        "POST",
        "/conversations/e2e-3/messages",
        {"message": "Refund order A-2002, it arrived broken"},
    )
    assert status == 200, body
    action_id = body["actions"][0]["action_id"]
    approval = wait_for(lambda: item(aws, outputs, f"APPROVAL#{action_id}"))
    assert approval["status"]["S"] == "pending"
    notice = captures["approvals"].find(lambda m: m.get("approval_id") == action_id)
    assert notice["payload"]["amount"] == 5000.0
    assert notice["summary"] == "refund 5,000.00 USD for order A-2002"
    assert item(aws, outputs, f"REFUND#{action_id}") is None
    status, listing = api.call("GET", "/approvals?status=pending", user="approver")
    assert status == 200 and action_id in [a["approval_id"] for a in listing["approvals"]]
    assert (
        api.call("POST", f"/approvals/{action_id}", {"decision": "approve"}, user="alice")[0] == 403
    )
    status, decided = api.call(
        "POST",
        f"/approvals/{action_id}",
        {"decision": "approve", "reason": "checked"},
        user="approver",
    )
    assert status == 200 and decided["status"] == "approved"
    refund = wait_for(lambda: item(aws, outputs, f"REFUND#{action_id}"))
    assert refund["approved_by"]["S"] == "approver"
    status, again = api.call(
        "POST", f"/approvals/{action_id}", {"decision": "reject"}, user="approver"
    )
    assert status == 409 and again["error"]["code"] == "already_decided"


def test_4_failing_worker_ends_in_the_dlq_handler(aws, outputs, captures):
    action_id = f"e2e-fail-{uuid.uuid4().hex[:6]}"
    put_refund(aws, outputs, action_id, order_id="X-0000", amount=10)
    alert = captures["alerts"].find(
        lambda m: (
            m.get("detail_type") == "ActionRequested"
            and "payment system unavailable" in str(m.get("error"))
        ),
        timeout_s=120,
    )
    assert alert is not None, "no failure alert"
    assert alert["attempts"] >= 1
    _, original = failure_of(aws, outputs, alert)
    assert original["detail"]["action_id"] == action_id
    assert item(aws, outputs, f"REFUND#{action_id}") is None


def test_5_duplicate_event_refunds_once(aws, outputs, captures):
    action_id = f"e2e-dup-{uuid.uuid4().hex[:6]}"
    put_refund(aws, outputs, action_id)
    put_refund(aws, outputs, action_id)
    assert wait_for(lambda: item(aws, outputs, f"REFUND#{action_id}"))
    completed = wait_for(
        lambda: [
            e
            for e in captures["bus"].poll()
            if e.get("detail-type") == "ActionCompleted" and e["detail"]["action_id"] == action_id
        ]
    )
    assert len(completed) == 1
    count = aws("dynamodb").query(
        TableName=outputs["table_name"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"REFUND#{action_id}"}},
        Select="COUNT",
    )["Count"]
    assert count == 1


def test_6_s3_object_and_sns_message_start_runs(aws, outputs):
    aws("s3").put_object(
        Bucket=outputs["inbox_bucket"],
        Key="conversations/e2e-s3/note.txt",
        Body=b"What's the status of order A-3003?",
    )
    assert wait_for(lambda: len(turns(aws, outputs, "e2e-s3")) >= 4)
    aws("sns").publish(
        TopicArn=outputs["inbound_topic_arn"],
        Message=json.dumps(
            {"message": "What's the weather in Oslo?", "conversation_id": "e2e-sns"}
        ),
    )
    assert wait_for(lambda: len(turns(aws, outputs, "e2e-sns")) >= 4)


def test_7_async_invocation_completes_later(api, captures):
    status, body = api.call(
        "POST",
        "/conversations/e2e-7/messages",
        {"message": "What's the status of order A-4004?", "async": True},
    )
    assert status == 202
    done = captures["bus"].find(
        lambda e: (
            e.get("detail-type") == "AgentExecutionCompleted"
            and e["detail"]["invocation_id"] == body["invocation_id"]
        )
    )
    assert done["detail"]["status"] == "completed"
    assert done["detail"]["elapsed_ms"] > 0
    status, conversation = api.call("GET", "/conversations/e2e-7")
    assert status == 200
    assert conversation["turns"][-1]["content"][-1]["text"].startswith("Order A-4004")
    # an async run's events are logged, numbered, for its owner (GET .../events)
    status, page = api.call("GET", "/conversations/e2e-7/events")
    assert status == 200, page
    events = page["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "result" and events[-1]["status"] == "completed"
    assert events[-1]["text"] == conversation["turns"][-1]["content"][-1]["text"]
    assert "tool_use_end" in {e["type"] for e in events}
    status, rest = api.call("GET", f"/conversations/e2e-7/events?after={events[-2]['seq']}")
    assert status == 200 and [e["seq"] for e in rest["events"]] == [events[-1]["seq"]]
    assert api.call("GET", "/conversations/e2e-7/events", user="mallory")[0] == 404


def test_8_an_undeclared_action_type_reaches_the_failure_path(aws, outputs, captures):
    """No app declares `CancelOrder`: the bus's catch-all (generated from the catalog) sends
    it to the unrouted queue, and dlq_handler records it and alerts (it used to vanish)."""
    marker = f"e2e-unrouted-{uuid.uuid4().hex[:6]}"
    bus = outputs["event_bus_name"]
    entry = action_entry(bus, "CancelOrder", {"order_id": "A-1001"}, marker)
    aws("events").put_events(Entries=[entry])

    def recorded(alert):
        if not str(alert.get("error", "")).startswith("unrouted: no rule"):
            return False
        return failure_of(aws, outputs, alert)[1]["detail"].get("action_id") == marker

    alert = captures["alerts"].find(recorded)
    assert alert is not None and alert["detail_type"] == "ActionRequested"
    for key in ("APPROVAL#", "REFUND#"):
        assert item(aws, outputs, key + marker) is None


def test_9_a_retried_request_with_an_idempotency_key_is_one_request(api, aws, outputs, captures):
    """The client retries (e.g. after a timeout on its side) with the same Idempotency-Key:
    the deployed function answers with the first response, one turn, one refund."""
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4().hex}"}
    message = {"message": "Refund order A-1001, it arrived broken"}
    first = api.call("POST", "/conversations/e2e-9/messages", message, headers=key)
    again = api.call("POST", "/conversations/e2e-9/messages", message, headers=key)
    assert first[0] == 200 and again == first
    assert len(turns(aws, outputs, "e2e-9")) == 4
    status, err = api.call(
        "POST", "/conversations/e2e-9/messages", {"message": "something else"}, headers=key
    )
    assert (status, err["error"]["code"]) == (422, "idempotency_key_reused")
    [action] = first[1]["actions"]
    assert wait_for(lambda: item(aws, outputs, f"REFUND#{action['action_id']}"))


def test_10_a_cancellation_always_waits_for_an_approver(api, aws, outputs, captures):
    """The second example action: the chat requests it, a human approves it, it happens once."""
    status, body = api.call(
        "POST",
        "/conversations/e2e-10/messages",
        {"message": "Please cancel subscription S-1001, it is too expensive"},
    )
    assert status == 200, body
    [action] = body["actions"]
    assert action["type"] == "CancelSubscription"
    assert "A human approves every cancellation" in body["reply"]
    approval = wait_for(lambda: item(aws, outputs, f"APPROVAL#{action['action_id']}"))
    assert approval["status"]["S"] == "pending" and approval["requested_by"]["S"] == "alice"
    notice = captures["approvals"].find(lambda m: m.get("approval_id") == action["action_id"])
    assert notice["summary"] == "cancel subscription S-1001 at the end of the period"
    assert item(aws, outputs, "SUBSCRIPTION#S-1001", "CANCELLATION") is None
    decision = {"decision": "approve", "reason": "customer confirmed"}
    path = f"/approvals/{action['action_id']}"
    assert api.call("POST", path, decision, user="alice")[0] == 403  # not by the requester
    assert api.call("POST", path, decision, user="approver")[0] == 200
    cancelled = wait_for(lambda: item(aws, outputs, "SUBSCRIPTION#S-1001", "CANCELLATION"))
    assert cancelled["action_id"]["S"] == action["action_id"]
    assert cancelled["approved_by"]["S"] == "approver"
    announced = captures["bus"].find(
        lambda e: (
            e.get("detail-type") == "ActionApprovalRequested"
            and e["detail"]["action_id"] == action["action_id"]
        )
    )
    assert announced is not None


def test_11_an_action_type_only_the_deployed_app_declares(aws, outputs, captures):
    """e2e_app (this workspace's app) declares ShipReplacement; Terraform made its rules from
    the app's catalog file: cheap ones are performed at once, valuable ones after a human's
    approval, each once however often the event arrives."""
    bus = outputs["event_bus_name"]

    def ship(value):
        action_id = f"ship-{uuid.uuid4().hex[:8]}"
        entry = action_entry(
            bus,
            "ShipReplacement",
            {"order_id": "A-1001", "value": value},
            action_id,
            requested_by="alice",
        )
        save(aws, outputs["table_name"], entry)  # requested by a turn (the relay publishes)
        aws("events").put_events(Entries=[entry, entry])  # and delivered twice more
        return action_id

    cheap = ship(50)
    shipped = wait_for(lambda: item(aws, outputs, f"SHIPMENT#{cheap}"))
    assert shipped["approved_by"]["S"] == "-"
    valuable = ship(500)
    approval = wait_for(lambda: item(aws, outputs, f"APPROVAL#{valuable}"))
    assert approval["summary"]["S"] == "ship a replacement worth 500.00 for order A-1001"
    assert item(aws, outputs, f"SHIPMENT#{valuable}") is None
    assert captures["bus"].find(
        lambda e: e.get("detail-type") == "ActionCompleted" and e["detail"]["action_id"] == cheap
    )
    assert approval["status"]["S"] == "pending" and approval["requested_by"]["S"] == "alice"
    count = aws("dynamodb").query(
        TableName=outputs["table_name"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"SHIPMENT#{cheap}"}},
        Select="COUNT",
    )["Count"]
    assert count == 1
