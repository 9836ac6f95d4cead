"""ActionRequested events as a turn saves them (the outbox) or a forger puts them on the bus."""

from __future__ import annotations

import json
import uuid
from typing import Any

from agentocore.events.actions import ActionRequest
from agentocore.events.outbox import outbox_item

#: The conversation the tests' requests name (a turn's requests always name theirs).
CONVERSATION = "e2e-actions"


def action_entry(
    bus: str,
    action_type: str,
    payload: dict[str, Any],
    action_id: str,
    *,
    requested_by: str | None = "user-a",
    conversation_id: str | None = CONVERSATION,
    **extra: Any,
) -> dict[str, str]:
    """A PutEvents entry requesting ``action_type`` with ``payload``."""
    detail = {
        "action_type": action_type,
        "action_id": action_id,
        "payload": payload,
        "requested_by": requested_by,
        "conversation_id": conversation_id,
        **extra,
    }
    return {
        "Source": "agentocore.actions",
        "DetailType": "ActionRequested",
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }


def refund_entry(
    bus: str,
    action_id: str,
    *,
    order_id: str = "A-1001",
    amount: float = 50,
    conversation_id: str = CONVERSATION,
    **payload: Any,
) -> dict[str, str]:
    """A RefundOrder request of the example app, its payload complete as the framework writes
    it (without ``high_risk`` it would take the approval path: no proof it needs none)."""
    body = {"order_id": order_id, "amount": amount, "currency": "USD", "high_risk": False}
    body.update(payload)
    return action_entry(bus, "RefundOrder", body, action_id, conversation_id=conversation_id)


def save(aws: Any, table: str, *entries: dict[str, str]) -> None:
    """Write ``entries`` to their conversation's outbox as a turn's save does (agent_executor's
    transaction); the deployed relay publishes them from the table's stream. Workers perform
    only requests found there: a bare PutEvents is a forgery."""
    details = [json.loads(e["Detail"]) for e in entries]
    requests = [
        ActionRequest(type=d["action_type"], action_id=d["action_id"], detail=d) for d in details
    ]
    conversation = str(details[0]["conversation_id"])
    item = outbox_item(
        conversation, 0, requests, now_iso="2026-01-01T00:00:00Z", ttl={"N": "4102444800"}
    )
    item["SK"] = {"S": f"TURN#{uuid.uuid4().hex}"}  # one save per call
    aws("dynamodb").put_item(TableName=table, Item=item)
