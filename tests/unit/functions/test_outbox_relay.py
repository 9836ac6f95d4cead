"""outbox_relay: stream records -> PutEvents -> published; redelivery, failures, republish."""

from __future__ import annotations

import json

from agentocore.events import ActionRequest
from agentocore.events.outbox import PENDING_ATTR, OutboxRelay
from agentocore.memory import ConversationMemory

from ..outbox_view import OutboxView
from .conftest import LambdaContext, install_runtime, load_function
from .test_dlq_handler import failures, sqs_record

relay_fn = load_function("outbox_relay")
dlq = load_function("dlq_handler")


def save_turn(stack, conversation="c1", n=1):
    memory = ConversationMemory(stack.table, client=stack.dynamodb)
    actions = [
        ActionRequest(
            type="RefundRequested",
            action_id=f"{conversation}-a{i}",
            detail={"action_id": f"{conversation}-a{i}", "order_id": "A-1001", "amount": 50},
        )
        for i in range(n)
    ]
    memory.append(
        conversation,
        [{"role": "user", "content": [{"text": "x"}]}],
        expected_turn_count=0,
        actions=actions,
    )
    return actions


class RejectingEvents:
    """A bus that rejects the entries of ``conversation`` (FailedEntryCount), others pass."""

    def __init__(self, real=None, conversation="c"):
        self.calls = 0
        self.real = real
        self.conversation = conversation

    def put_events(self, Entries):
        self.calls += 1
        if not any(f'"{self.conversation}-' in e["Detail"] for e in Entries):
            return self.real.put_events(Entries=Entries)
        failed = [{"ErrorCode": "InternalFailure", "ErrorMessage": "bus down"} for _ in Entries]
        return {"FailedEntryCount": len(Entries), "Entries": failed}


def use_events(stack, events):
    relay_fn.relay.set(OutboxRelay(stack.table, stack.bus, events_client=events))


def test_an_outbox_insert_is_published_once_and_marked(stack):
    install_runtime(relay_fn, [])
    [a] = save_turn(stack)
    records = stack.stream_records()
    response = relay_fn.handler({"Records": records}, LambdaContext())
    assert response == {"batchItemFailures": []}
    [event] = stack.drain(stack.bus_queue)
    assert (
        event["source"] == a.entry()["Source"] and event["detail-type"] == a.entry()["DetailType"]
    )
    assert event["detail"] == json.loads(a.entry()["Detail"])
    [item] = OutboxView(stack.dynamodb, stack.table).items
    assert "published_at" in item and PENDING_ATTR not in item
    # the stream redelivers the same records: nothing is published again
    relay_fn.handler({"Records": records}, LambdaContext())
    assert stack.drain(stack.bus_queue) == []


def test_records_other_than_outbox_inserts_are_skipped(stack):
    install_runtime(relay_fn, [])
    memory = ConversationMemory(stack.table, client=stack.dynamodb)
    memory.append("c1", [{"role": "user", "content": [{"text": "x"}]}], expected_turn_count=0)
    records = stack.stream_records()
    assert records and all(
        not r["dynamodb"]["Keys"]["PK"]["S"].startswith("OUTBOX#") for r in records
    )
    events = RejectingEvents()
    use_events(stack, events)
    assert relay_fn.handler({"Records": records}, LambdaContext()) == {"batchItemFailures": []}
    assert events.calls == 0


def test_a_rejecting_bus_fails_only_that_record_and_leaves_it_pending(stack):
    install_runtime(relay_fn, [])
    save_turn(stack, "c1")
    save_turn(stack, "c2")
    records = [r for r in stack.stream_records() if r["eventName"] == "INSERT"]
    records = [r for r in records if r["dynamodb"]["Keys"]["PK"]["S"].startswith("OUTBOX#")]
    good, bad = records
    use_events(stack, RejectingEvents(stack.events, "c2"))
    response = relay_fn.handler({"Records": [good, bad]}, LambdaContext())
    assert response == {
        "batchItemFailures": [{"itemIdentifier": bad["dynamodb"]["SequenceNumber"]}]
    }
    assert len(stack.drain(stack.bus_queue)) == 1
    c1, c2 = OutboxView(stack.dynamodb, stack.table).items
    assert PENDING_ATTR not in c1 and PENDING_ATTR in c2 and "published_at" not in c2


def test_republish_publishes_what_the_relay_gave_up_on_and_only_that(stack):
    install_runtime(relay_fn, [])
    save_turn(stack, "c1")
    save_turn(stack, "c2", n=2)
    relay_fn.relay.set(None)
    # c1 was relayed; c2's relay failed and went to the DLQ
    c1 = [r for r in stack.stream_records() if r["dynamodb"]["Keys"]["PK"]["S"] == "OUTBOX#c1"]
    relay_fn.handler({"Records": c1}, LambdaContext())
    assert len(stack.drain(stack.bus_queue)) == 1
    relay_fn.relay.set(None)
    report = relay_fn.handler({"republish_older_than_s": 0}, LambdaContext())
    assert report == {"published": ["OUTBOX#c2|TURN#000000001"], "failed": {}}
    assert sorted(e["detail"]["action_id"] for e in stack.drain(stack.bus_queue)) == [
        "c2-a0",
        "c2-a1",
    ]
    assert relay_fn.handler({"republish_older_than_s": 0}, LambdaContext())["published"] == []
    # too young to republish: the relay may still be on it
    save_turn(stack, "c3")
    assert relay_fn.handler({"republish_older_than_s": 600}, LambdaContext())["published"] == []


def test_republish_reports_an_item_the_bus_still_rejects(stack):
    install_runtime(relay_fn, [])
    save_turn(stack, "c1")
    use_events(stack, RejectingEvents(stack.events, "c1"))
    report = relay_fn.handler({"republish_older_than_s": 0}, LambdaContext())
    assert report["published"] == []
    assert "bus down" in report["failed"]["OUTBOX#c1|TURN#000000001"]


def test_dlq_handler_records_the_stream_mappings_on_failure_record(stack):
    install_runtime(dlq, [])
    on_failure = {
        "requestContext": {
            "requestId": "r1",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:ci-outbox-relay",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "version": "1.0",
        "timestamp": "2026-11-25T09:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-0001",
            "startSequenceNumber": "100",
            "endSequenceNumber": "102",
            "approximateArrivalOfFirstRecord": "2026-11-25T08:59:00Z",
            "approximateArrivalOfLastRecord": "2026-11-25T08:59:01Z",
            "batchSize": 3,
            "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026",
        },
    }
    record = sqs_record(json.dumps(on_failure))
    assert dlq.handler({"Records": [record, record]}, LambdaContext()) == {"batchItemFailures": []}
    [item] = failures(stack).values()
    assert item["SK"]["S"] == "stream:shardId-0001:100"
    error = item["error"]["S"]
    assert "RetryAttemptsExhausted" in error and "100..102" in error and "republish" in error
    assert item["attempts"]["N"] == "6" and item["detail_type"]["S"] == "DynamoDBStreamBatchFailed"
    [notice] = stack.notices(stack.alerts_queue)
    assert notice["message"]["error"] == error
