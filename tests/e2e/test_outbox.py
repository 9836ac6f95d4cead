"""The outbox through the deployed stack: a saved turn's actions reach the bus through the
table's stream and outbox_relay; a relay that cannot publish ends in the outbox DLQ (failure
record + alert) and the item is republished once the cause is fixed."""

from __future__ import annotations

import json
import time
import uuid

from agentocore import ddb
from agentocore.events.actions import ActionRequest
from agentocore.events.outbox import outbox_item

from ..action_events import refund_entry
from .conftest import item, wait_for


def outbox(aws, outputs, conversation):
    return item(aws, outputs, f"OUTBOX#{conversation}", "TURN#000000001")


def test_a_chat_turns_action_is_relayed_from_its_outbox_item(api, aws, outputs):
    status, body = api.call(
        "POST", "/conversations/e2e-outbox-1/messages", {"message": "Refund order A-1001, broken"}
    )
    assert status == 200, body
    item = wait_for(
        lambda: (i := outbox(aws, outputs, "e2e-outbox-1")) and "published_at" in i and i
    )
    assert item, "the relay did not mark the outbox item published"
    assert "outbox_pending" not in item  # out of the pending index
    [entry] = json.loads(item["entries"]["S"])
    assert json.loads(entry["Detail"])["action_id"] == body["actions"][0]["action_id"]


def test_a_relay_that_cannot_publish_ends_in_the_dlq_and_is_republished(aws, outputs, captures):
    """An outbox item with an entry EventBridge rejects (as if it were corrupted): the relay's
    retries run out, the stream mapping's on-failure record reaches the outbox DLQ, dlq_handler
    records it and alerts; the item stays pending. The operator fixes it and invokes the relay
    with republish_older_than_s: the action is published and performed once."""
    conversation = f"e2e-outbox-{uuid.uuid4().hex[:6]}"
    action_id = f"outbox-{uuid.uuid4().hex[:8]}"
    good = refund_entry(outputs["event_bus_name"], action_id, conversation_id=conversation)
    good.pop("EventBusName")
    bad = {**good, "Detail": "{not json"}
    now = time.time()
    detail = json.loads(good["Detail"])
    item = outbox_item(
        conversation,
        1,
        [ActionRequest(type="RefundOrder", action_id=action_id, detail=detail)],
        now_iso=ddb.iso(now - 60),
        ttl=ddb.n(int(now) + 3600),
        entries=json.dumps([bad]),
    )
    aws("dynamodb").put_item(TableName=outputs["table_name"], Item=item)

    alert = captures["alerts"].find(
        lambda m: str(m.get("queue") or "").endswith("-outbox-dlq"), timeout_s=240
    )
    assert alert is not None, "no alert for the relay's failure"
    assert "republish" in alert["error"].lower() or "stream" in alert["error"].lower()
    pending = outbox(aws, outputs, conversation)
    assert "published_at" not in pending and "outbox_pending" in pending

    # the operator repairs the item, then republishes what is still pending
    aws("dynamodb").update_item(
        TableName=outputs["table_name"],
        Key={"PK": item["PK"], "SK": item["SK"]},
        UpdateExpression="SET entries = :e",
        ExpressionAttributeValues={":e": {"S": json.dumps([good])}},
    )
    response = aws("lambda").invoke(
        FunctionName=outputs["function_names"]["outbox_relay"],
        Payload=json.dumps({"republish_older_than_s": 30}),
    )
    report = json.loads(response["Payload"].read())
    assert f"OUTBOX#{conversation}|TURN#000000001" in report["published"], report
    refund = wait_for(
        lambda: (
            aws("dynamodb")
            .get_item(
                TableName=outputs["table_name"],
                Key={"PK": {"S": f"REFUND#{action_id}"}, "SK": {"S": "META"}},
            )
            .get("Item")
        )
    )
    assert refund is not None, "the republished action was not performed"
    assert "outbox_pending" not in outbox(aws, outputs, conversation)
