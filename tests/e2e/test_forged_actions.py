"""Forged action requests through the deployed stack: any principal with PutEvents can claim
the actions' source, so a worker performs only what a saved turn put in the outbox."""

from __future__ import annotations

import json
import uuid

from ..action_events import refund_entry, save
from .conftest import item, wait_for


def recorded_failure(aws, outputs, captures, action_id):
    """The failure alert (and record) dlq_handler raised for ``action_id``."""

    def matches(alert):
        if alert.get("detail_type") != "ActionRequested":
            return False
        failure = item(aws, outputs, alert["failure_key"]["PK"], alert["failure_key"]["SK"])
        return json.loads(failure["original"]["S"])["detail"]["action_id"] == action_id

    return captures["alerts"].find(matches, timeout_s=180)


def test_a_forged_small_refund_is_not_performed_and_is_recorded(aws, outputs, captures):
    """Below the threshold the standard rule routes it straight to standard_worker; the worker
    finds no saved turn that requested it: retried, dead-lettered, recorded, alerted."""
    action_id = f"forged-req-{uuid.uuid4().hex[:8]}"
    entry = refund_entry(outputs["event_bus_name"], action_id, amount=40)
    assert aws("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
    alert = recorded_failure(aws, outputs, captures, action_id)
    assert alert is not None, "the forged request was not recorded as a failure"
    assert "no saved turn" in alert["error"]
    assert item(aws, outputs, f"REFUND#{action_id}") is None


def test_a_saved_request_altered_on_the_bus_is_not_performed(aws, outputs, captures):
    """The turn saved a refund of 40; a copy with 900 on the bus (still below the approval
    threshold) is refused; the saved one is performed with its own amount."""
    action_id = f"altered-{uuid.uuid4().hex[:8]}"
    genuine = refund_entry(outputs["event_bus_name"], action_id, amount=40)
    altered = refund_entry(outputs["event_bus_name"], action_id, amount=900)
    aws("events").put_events(Entries=[altered])  # the forger is first on the bus
    alert = recorded_failure(aws, outputs, captures, action_id)
    assert alert is not None and "no saved turn" in alert["error"]
    assert item(aws, outputs, f"REFUND#{action_id}") is None
    save(aws, outputs["table_name"], genuine)
    refund = wait_for(lambda: item(aws, outputs, f"REFUND#{action_id}"))
    assert refund is not None and float(refund["amount"]["N"]) == 40


def test_a_forged_large_refund_creates_no_approval(aws, outputs, captures):
    """Approvers only ever see what a turn requested: no pending approval for a forgery."""
    action_id = f"forged-big-{uuid.uuid4().hex[:8]}"
    entry = refund_entry(outputs["event_bus_name"], action_id, amount=5000)
    aws("events").put_events(Entries=[entry])
    alert = recorded_failure(aws, outputs, captures, action_id)
    assert alert is not None, "the forged request was not recorded as a failure"
    assert item(aws, outputs, f"APPROVAL#{action_id}") is None
