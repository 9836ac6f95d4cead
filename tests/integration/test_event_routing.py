"""Events on the deployed bus reach the right worker, which really runs (emulator executor)."""

from __future__ import annotations

import json
import uuid

import pytest

from ..action_events import refund_entry, save
from .conftest import item, wait_for


def refund(aws, outputs, amount, **payload):
    action_id = f"route-{uuid.uuid4().hex[:8]}"
    entry = refund_entry(outputs["event_bus_name"], action_id, amount=amount, **payload)
    if payload.get("high_risk") == "omit":  # as a forger might send it
        detail = json.loads(entry["Detail"])
        del detail["payload"]["high_risk"]
        entry["Detail"] = json.dumps(detail)
    save(aws, outputs["table_name"], entry)  # a turn saved it; the relay publishes it
    return action_id


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": 5000, "high_risk": False},
        {"amount": 10, "high_risk": True},
        {"amount": 10, "high_risk": "omit"},  # a missing flag is no proof it needs none
    ],
)
def test_what_the_rule_cannot_clear_takes_the_approval_path(aws, outputs, payload):
    action_id = refund(aws, outputs, **payload)
    approval = wait_for(lambda: item(aws, outputs, f"APPROVAL#{action_id}"))
    assert approval is not None, "approval_worker did not record a pending approval"
    assert approval["status"]["S"] == "pending"
    assert approval["summary"]["S"].startswith("refund ")
    assert item(aws, outputs, f"REFUND#{action_id}") is None  # nothing paid without a human


def test_amount_50_takes_the_standard_path(aws, outputs):
    action_id = refund(aws, outputs, 50, high_risk=False)
    performed = wait_for(lambda: item(aws, outputs, f"REFUND#{action_id}"))
    assert performed is not None, "standard_worker did not perform the refund"
    assert float(performed["amount"]["N"]) == 50
    assert item(aws, outputs, f"APPROVAL#{action_id}") is None
