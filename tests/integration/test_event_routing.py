"""Events on the deployed bus reach the right worker, which really runs (emulator executor)."""

from __future__ import annotations

import json
import uuid

from .conftest import wait_for


def refund(aws, outputs, amount):  # no high_risk field: the rules must not need it
    action_id = f"route-{uuid.uuid4().hex[:8]}"
    detail = {
        "action_id": action_id,
        "order_id": "A-1001",
        "amount": amount,
        "currency": "USD",
        "conversation_id": "routing-test",
        "user_id": "user-a",
    }
    response = aws("events").put_events(
        Entries=[
            {
                "Source": "agentocore.actions",
                "DetailType": "RefundRequested",
                "Detail": json.dumps(detail),
                "EventBusName": outputs["event_bus_name"],
            }
        ]
    )
    assert response["FailedEntryCount"] == 0
    return action_id


def item(aws, outputs, pk):
    key = {"PK": {"S": pk}, "SK": {"S": "META"}}
    return aws("dynamodb").get_item(TableName=outputs["table_name"], Key=key).get("Item")


def test_amount_5000_takes_the_approval_path(aws, outputs):
    action_id = refund(aws, outputs, 5000)
    approval = wait_for(lambda: item(aws, outputs, f"APPROVAL#{action_id}"))
    assert approval is not None, "approval_worker did not record a pending approval"
    assert approval["status"]["S"] == "pending"
    assert float(approval["amount"]["N"]) == 5000
    assert item(aws, outputs, f"REFUND#{action_id}") is None  # nothing paid without a human


def test_amount_50_takes_the_standard_path(aws, outputs):
    action_id = refund(aws, outputs, 50)
    performed = wait_for(lambda: item(aws, outputs, f"REFUND#{action_id}"))
    assert performed is not None, "standard_worker did not perform the refund"
    assert float(performed["amount"]["N"]) == 50
    assert item(aws, outputs, f"APPROVAL#{action_id}") is None
