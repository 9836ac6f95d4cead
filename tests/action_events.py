"""ActionRequested events as a producer (or a forger) puts them on the bus, for tests."""

from __future__ import annotations

import json
from typing import Any


def action_entry(
    bus: str,
    action_type: str,
    payload: dict[str, Any],
    action_id: str,
    *,
    requested_by: str | None = "user-a",
    conversation_id: str | None = None,
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
    bus: str, action_id: str, *, order_id: str = "A-1001", amount: float = 50, **payload: Any
) -> dict[str, str]:
    """A RefundOrder request of the example app, its payload complete as the framework writes
    it (without ``high_risk`` it would take the approval path: no proof it needs none)."""
    body = {"order_id": order_id, "amount": amount, "currency": "USD", "high_risk": False}
    body.update(payload)
    return action_entry(bus, "RefundOrder", body, action_id)
