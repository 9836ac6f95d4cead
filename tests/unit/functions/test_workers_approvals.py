"""standard_worker, approval_worker and the approval decisions through the API."""

from __future__ import annotations

import pytest

from agentocore.events import EventContractError, action_id_for
from agentocore.workers.policy import ApprovalRequired
from agentocore.workers.refunds import PaymentSystemUnavailable, RefundLedger

from .conftest import (
    LambdaContext,
    eventbridge_event,
    http_event,
    install_runtime,
    load_function,
    response_json,
)

standard = load_function("standard_worker")
approval = load_function("approval_worker")
executor = load_function("agent_executor")


def refund_event(amount, *, action_id="act-1", order_id="A-1001", **extra):
    detail = {
        "action_id": action_id,
        "order_id": order_id,
        "amount": amount,
        "currency": "USD",
        "conversation_id": "c1",
        "user_id": "user-a",
        **extra,
    }
    return eventbridge_event("RefundRequested", detail, "agentocore.actions")


def ledger(stack):
    return RefundLedger(stack.table, client=stack.dynamodb)


@pytest.fixture
def workers(stack):
    install_runtime(standard, [])
    install_runtime(approval, [])
    install_runtime(executor, [])
    return stack


def decide(approval_id, decision, *, sub="boss", groups="[approvers]", reason=None):
    body = {"decision": decision, **({"reason": reason} if reason else {})}
    event = http_event("POST", f"/approvals/{approval_id}", body=body, sub=sub, groups=groups)
    return response_json(executor.handler(event, LambdaContext()))


def test_small_refund_is_performed_once_and_completed(workers):
    out = standard.handler(refund_event(50), LambdaContext())
    assert out["event"] == "ActionCompleted"
    assert ledger(workers).count_refunds("act-1") == 1
    [done] = workers.bus_events("ActionCompleted")
    assert done["source"] == "agentocore.workers"
    assert done["detail"]["action_id"] == "act-1"
    assert done["detail"]["result"]["amount"] == 50.0


def test_duplicate_delivery_performs_one_refund(workers):
    event = refund_event(50, action_id="dup")
    standard.handler(event, LambdaContext())
    standard.handler(event, LambdaContext())  # EventBridge delivered it again
    other_envelope = {**event, "id": "another-event-id"}  # same action, new envelope
    standard.handler(other_envelope, LambdaContext())
    assert ledger(workers).count_refunds("dup") == 1
    assert len(workers.bus_events("ActionCompleted")) == 1


def test_standard_worker_refuses_a_refund_that_needs_approval(workers):
    with pytest.raises(ApprovalRequired, match="needs an approval"):
        standard.handler(refund_event(5000, action_id="big"), LambdaContext())
    with pytest.raises(ApprovalRequired):
        standard.handler(refund_event(10, action_id="risky", high_risk=True), LambdaContext())
    assert ledger(workers).count_refunds("big") == 0


def test_failures_raise_so_the_event_is_retried(workers, monkeypatch):
    monkeypatch.setenv("AGENTOCORE_PAYMENTS_FAIL_ORDER_IDS", "A-9999")
    install_runtime(standard, [])
    event = refund_event(50, action_id="fails", order_id="A-9999")
    for _ in range(2):  # each retry runs again: the idempotency record is not kept on failure
        with pytest.raises(PaymentSystemUnavailable):
            standard.handler(event, LambdaContext())
    assert ledger(workers).count_refunds("fails") == 0
    assert workers.bus_events() == []


def test_unsupported_currency_is_reported_as_action_failed(workers):
    out = standard.handler(refund_event(50, action_id="jpy", currency="JPY"), LambdaContext())
    assert out["event"] == "ActionFailed"
    [failed] = workers.bus_events("ActionFailed")
    assert "JPY" in failed["detail"]["error"]


def test_unknown_versions_and_wrong_events_are_rejected(workers):
    with pytest.raises(EventContractError, match="version 3"):
        standard.handler(refund_event(50, action_id="v3", version=3), LambdaContext())
    with pytest.raises(EventContractError, match="amount"):
        standard.handler(refund_event(-5, action_id="neg"), LambdaContext())
    completed = eventbridge_event(
        "ActionCompleted",
        {"action_id": "x", "action_type": "RefundRequested"},
        "agentocore.workers",
    )
    with pytest.raises(EventContractError, match="does not handle"):
        standard.handler(completed, LambdaContext())


def test_large_refund_waits_for_approval_then_is_performed(workers):
    out = approval.handler(refund_event(5000, action_id="big-1"), LambdaContext())
    assert out == {"approval_id": "big-1", "created": True, "status": "pending"}
    [notice] = workers.notices(workers.approvals_queue)
    assert notice["subject"].startswith("Approval needed: RefundRequested 5,000.00 USD")
    assert notice["message"]["approval_id"] == "big-1"
    assert ledger(workers).count_refunds("big-1") == 0

    status, listing = response_json(
        executor.handler(
            http_event(
                "GET", "/approvals", query={"status": "pending"}, sub="boss", groups="[approvers]"
            ),
            LambdaContext(),
        )
    )
    assert status == 200
    assert [a["approval_id"] for a in listing["approvals"]] == ["big-1"]

    status, body = decide("big-1", "approve", reason="verified with the customer")
    assert status == 200 and body["status"] == "approved" and body["decided_by"] == "boss"
    [approved] = workers.bus_events("ActionApproved")
    assert approved["detail"]["action"]["amount"] == 5000

    # EventBridge routes ActionApproved to standard_worker
    out = standard.handler(approved, LambdaContext())
    assert out["event"] == "ActionCompleted"
    assert out["result"]["approved_by"] == "boss"
    assert ledger(workers).count_refunds("big-1") == 1

    # a second decision is refused, whatever it says
    assert decide("big-1", "approve")[0] == 409
    status, err = decide("big-1", "reject")
    assert (status, err["error"]["code"]) == (409, "already_decided")
    status, listing = response_json(
        executor.handler(
            http_event("GET", "/approvals", sub="boss", groups="[approvers]"), LambdaContext()
        )
    )
    assert listing["approvals"] == []


def test_duplicate_refund_event_creates_one_approval_and_one_notice(workers):
    event = refund_event(5000, action_id="big-2")
    approval.handler(event, LambdaContext())
    approval.handler({**event, "id": "redelivered"}, LambdaContext())
    assert len(workers.items("APPROVAL#big-2")) == 1
    assert len(workers.notices(workers.approvals_queue)) == 1


def test_reject_publishes_and_notes_the_conversation(workers):
    executor.runtime().memory.append(
        "c1",
        [
            {"role": "user", "content": [{"text": "refund A-2002 please"}]},
            {"role": "assistant", "content": [{"text": "requested"}]},
        ],
        expected_turn_count=0,
        user_id="user-a",
    )
    approval.handler(refund_event(5000, action_id="big-3", order_id="A-2002"), LambdaContext())
    status, body = decide("big-3", "reject", reason="outside the return window")
    assert status == 200 and body["status"] == "rejected"
    [rejected] = workers.bus_events("ActionRejected")
    assert rejected["detail"]["reason"] == "outside the return window"
    window = executor.runtime().memory.load("c1", user_id="user-a")
    assert (
        "rejected by an approver: outside the return window"
        in window.messages[-1]["content"][-1]["text"]
    )
    assert ledger(workers).count_refunds("big-3") == 0


def test_approval_cannot_be_skipped(workers):
    approval.handler(refund_event(5000, action_id="big-4"), LambdaContext())
    # a forged ActionApproved for an approval nobody decided
    forged = eventbridge_event(
        "ActionApproved",
        {
            "approval_id": "big-4",
            "action_id": "big-4",
            "action_type": "RefundRequested",
            "action": {"action_id": "big-4", "order_id": "A-2002", "amount": 5000},
            "decided_by": "mallory",
        },
        "agentocore.approvals",
    )
    with pytest.raises(ApprovalRequired, match="status pending"):
        standard.handler(forged, LambdaContext())
    # the requester cannot approve their own refund, non-approvers cannot decide or list
    status, err = decide("big-4", "approve", sub="user-a")
    assert (status, err["error"]["code"]) == (403, "forbidden")
    status, _ = decide("big-4", "approve", sub="random", groups="[customers]")
    assert status == 403
    status, _ = response_json(
        executor.handler(http_event("GET", "/approvals", sub="random"), LambdaContext())
    )
    assert status == 403
    assert decide("nope", "approve")[0] == 404
    status, err = decide("big-4", "maybe")
    assert status == 400
    assert ledger(workers).count_refunds("big-4") == 0


def test_decision_survives_a_failed_publish(workers):
    approval.handler(refund_event(5000, action_id="big-5"), LambdaContext())
    from agentocore.events import PublishError

    publisher = executor.runtime().publisher

    def broken(*events):
        raise PublishError("bus unavailable")

    publisher.publish = broken  # the bus is down when the approver decides
    status, err = decide("big-5", "approve")
    assert (status, err["error"]["code"]) == (502, "publish_failed")
    del publisher.publish  # the bus is back
    status, body = decide("big-5", "approve")  # the same decision again publishes it
    assert (status, body["status"]) == (200, "approved")
    assert len(workers.bus_events("ActionApproved")) == 1
    assert decide("big-5", "approve")[0] == 409


def test_action_ids_from_the_tool_match_the_events(workers):
    assert action_id_for("c1", "t1") == action_id_for("c1", "t1")
    assert action_id_for("c1", "t1") != action_id_for("c2", "t1")


@pytest.mark.parametrize("tool_user_id", [None, "someone-else"])
def test_the_requester_cannot_approve_whatever_the_tool_returned(workers, tool_user_id):
    """The README's refund tool returns no user id (and a tool could name anyone): the
    framework's `requested_by` decides who requested, so the requester cannot approve."""
    detail_extra = {"requested_by": "alice", "user_id": tool_user_id}
    event = refund_event(5000, action_id=f"self-{tool_user_id}", **detail_extra)
    approval.handler(event, LambdaContext())
    status, err = decide(f"self-{tool_user_id}", "approve", sub="alice")
    assert status == 403, err
    assert ledger(workers).count_refunds(f"self-{tool_user_id}") == 0
    assert decide(f"self-{tool_user_id}", "approve", sub="boss")[0] == 200
