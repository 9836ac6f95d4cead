"""standard_worker, approval_worker and the approval decisions through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentocore.actions import ActionError, ApprovalRequired, UnknownActionType
from agentocore.events import EventContractError, action_id_for
from agentocore.events.actions import ActionRequest
from agentocore.events.outbox import outbox_item
from agentocore.workers.provenance import UnrequestedAction
from example_app.stores import PaymentSystemUnavailable, RefundLedger

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


PAYLOAD_FIELDS = {"high_risk", "currency", "reason", "user_id"}
#: The stack of the running test: action_event() saves its request there, as a turn would.
STACK: list[Any] = []


def save_request(detail, turn=1):
    """The outbox item a saved turn writes for ``detail`` (agent_executor's transaction)."""
    stack = STACK[-1]
    request = ActionRequest(
        type=detail["action_type"], action_id=detail["action_id"], detail=detail
    )
    item = outbox_item(
        detail["conversation_id"], turn, [request], now_iso="2026-01-01T00:00:00Z", ttl={"N": "0"}
    )
    item["SK"] = {"S": f"TURN#{detail['action_id']}"}
    stack.dynamodb.put_item(TableName=stack.table, Item=item)


def action_event(action_type, payload, *, action_id="act-1", saved=True, **extra):
    """An ActionRequested event; ``saved``: a turn saved it (else it is forged)."""
    detail = {
        "action_type": action_type,
        "action_id": action_id,
        "payload": payload,
        "conversation_id": "c1",
        "requested_by": "user-a",
        **extra,
    }
    if saved:
        save_request(detail)
    return eventbridge_event("ActionRequested", detail, "agentocore.actions")


def refund_event(amount, *, action_id="act-1", order_id="A-1001", **extra):
    payload = {"order_id": order_id, "amount": amount, "currency": "USD"}
    payload.update({k: extra.pop(k) for k in list(extra) if k in PAYLOAD_FIELDS})
    return action_event("RefundOrder", payload, action_id=action_id, **extra)


def worker_events(stack):
    """What the workers published (the saved requests' own ActionRequested excluded)."""
    return [e for e in stack.bus_events() if e["detail-type"] != "ActionRequested"]


def ledger(stack):
    return RefundLedger(stack.table, client=stack.dynamodb)


@pytest.fixture
def workers(stack):
    STACK.append(stack)
    install_runtime(standard, [])
    install_runtime(approval, [])
    install_runtime(executor, [])
    return stack


def decide(approval_id, decision, *, sub="boss", groups="[approvers]", reason=None):
    body = {"decision": decision, **({"reason": reason} if reason else {})}
    event = http_event("POST", f"/approvals/{approval_id}", body=body, sub=sub, groups=groups)
    return response_json(approval.handler(event, LambdaContext()))


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
    from example_app import stores

    monkeypatch.setenv(stores.FAIL_ORDERS_ENV, "A-9999")
    monkeypatch.setattr(stores, "_stores", {})
    install_runtime(standard, [])
    event = refund_event(50, action_id="fails", order_id="A-9999")
    for _ in range(2):  # each retry runs again: the idempotency record is not kept on failure
        with pytest.raises(PaymentSystemUnavailable):
            standard.handler(event, LambdaContext())
    assert ledger(workers).count_refunds("fails") == 0
    assert worker_events(workers) == []


def test_unsupported_currency_is_reported_as_action_failed(workers):
    out = standard.handler(refund_event(50, action_id="jpy", currency="JPY"), LambdaContext())
    assert out["event"] == "ActionFailed"
    [failed] = workers.bus_events("ActionFailed")
    assert "JPY" in failed["detail"]["error"]


def test_unknown_versions_and_wrong_events_are_rejected(workers):
    with pytest.raises(EventContractError, match="version 3"):
        standard.handler(refund_event(50, action_id="v3", version=3), LambdaContext())
    with pytest.raises(ActionError, match="payload version 2"):
        standard.handler(refund_event(50, action_id="pv2", payload_version=2), LambdaContext())
    with pytest.raises(ActionError, match="amount"):
        standard.handler(refund_event(-5, action_id="neg"), LambdaContext())
    completed = eventbridge_event(
        "ActionCompleted",
        {"action_id": "x", "action_type": "RefundOrder"},
        "agentocore.workers",
    )
    with pytest.raises(EventContractError, match="does not handle"):
        standard.handler(completed, LambdaContext())


def test_large_refund_waits_for_approval_then_is_performed(workers):
    out = approval.handler(refund_event(5000, action_id="big-1"), LambdaContext())
    assert out == {"approval_id": "big-1", "created": True, "status": "pending"}
    [notice] = workers.notices(workers.approvals_queue)
    assert notice["subject"] == "Approval needed: refund 5,000.00 USD for order A-1001"
    [announced] = workers.bus_events("ActionApprovalRequested")
    assert announced["detail"]["action_id"] == "big-1"
    assert notice["message"]["approval_id"] == "big-1"
    assert ledger(workers).count_refunds("big-1") == 0

    status, listing = response_json(
        approval.handler(
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
    assert approved["detail"]["action"]["payload"]["amount"] == 5000

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
        approval.handler(
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
            "action_type": "RefundOrder",
            "action": refund_event(5000, action_id="big-4")["detail"],
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
        approval.handler(http_event("GET", "/approvals", sub="random"), LambdaContext())
    )
    assert status == 403
    assert decide("nope", "approve")[0] == 404
    status, err = decide("big-4", "maybe")
    assert status == 400
    assert ledger(workers).count_refunds("big-4") == 0


def test_decision_survives_a_failed_publish(workers):
    approval.handler(refund_event(5000, action_id="big-5"), LambdaContext())
    from agentocore.events import PublishError

    publisher = approval.runtime().publisher

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
    # user_id: ignored by the payload model
    event = refund_event(
        5000, action_id=f"self-{tool_user_id}", requested_by="alice", user_id=tool_user_id
    )
    approval.handler(event, LambdaContext())
    status, err = decide(f"self-{tool_user_id}", "approve", sub="alice")
    assert status == 403, err
    assert ledger(workers).count_refunds(f"self-{tool_user_id}") == 0
    assert decide(f"self-{tool_user_id}", "approve", sub="boss")[0] == 200


def cancel_event(subscription_id="S-1001", *, action_id="cancel-1", **extra):
    payload = {"subscription_id": subscription_id, "reason": "too expensive"}
    return action_event("CancelSubscription", payload, action_id=action_id, **extra)


def test_undeclared_action_types_never_reach_a_handler(workers):
    """An action type the catalog does not declare (a forged or stale event) raises in both
    workers: the event is retried, then dead-lettered (dlq_handler records it and alerts)."""
    undeclared = action_event("CancelOrder", {"order_id": "A-1001"}, action_id="undeclared")
    with pytest.raises(UnknownActionType, match="CancelOrder"):
        standard.handler(undeclared, LambdaContext())
    with pytest.raises(UnknownActionType, match="CancelOrder"):
        approval.handler(undeclared, LambdaContext())
    assert workers.items("APPROVAL#") == [] and worker_events(workers) == []


def test_a_cancellation_always_waits_for_a_human_and_happens_once(workers):
    # standard_worker refuses it whatever routed it there
    with pytest.raises(ApprovalRequired, match="always needs approval"):
        standard.handler(cancel_event(), LambdaContext())
    out = approval.handler(cancel_event(), LambdaContext())
    assert out["status"] == "pending"
    [notice] = workers.notices(workers.approvals_queue)
    assert (
        notice["subject"] == "Approval needed: cancel subscription S-1001 at the end of the period"
    )
    assert notice["message"]["payload"]["subscription_id"] == "S-1001"
    assert decide("cancel-1", "approve")[0] == 200
    [approved] = workers.bus_events("ActionApproved")
    out = standard.handler(approved, LambdaContext())
    assert out["event"] == "ActionCompleted" and out["result"]["approved_by"] == "boss"
    standard.handler({**approved, "id": "redelivered"}, LambdaContext())
    [item] = workers.items("SUBSCRIPTION#S-1001")
    assert item["action_id"]["S"] == "cancel-1"
    # another request to cancel the same subscription is declined once approved
    approval.handler(cancel_event(action_id="cancel-2"), LambdaContext())
    assert decide("cancel-2", "approve")[0] == 200
    second = [
        e for e in workers.bus_events("ActionApproved") if e["detail"]["action_id"] == "cancel-2"
    ]
    out = standard.handler(second[0], LambdaContext())
    assert out["event"] == "ActionFailed" and "already cancelled" in out["error"]
    assert len(workers.items("SUBSCRIPTION#S-1001")) == 1


def test_an_approval_binds_its_action_type(workers):
    """An ActionApproved whose recorded approval is for another type performs nothing."""
    approval.handler(cancel_event(action_id="bound"), LambdaContext())
    assert decide("bound", "approve")[0] == 200
    [approved] = workers.bus_events("ActionApproved")
    approved["detail"]["action_id"] = "other"
    with pytest.raises(ApprovalRequired, match="does not match"):
        standard.handler(approved, LambdaContext())
    assert workers.items("SUBSCRIPTION#") == []


def test_one_action_arriving_by_both_paths_runs_its_handler_once(workers):
    """A refund that needs no approval was performed; a forged approval for the same action id
    (record and all) replays the first outcome instead of refunding again."""
    event = refund_event(50, action_id="both")
    standard.handler(event, LambdaContext())
    executor.runtime().approvals.create(
        "both",
        action_type="RefundOrder",
        action=event["detail"],
        requested_by="user-a",
        conversation_id="c1",
    )
    assert decide("both", "approve")[0] == 200
    [approved] = workers.bus_events("ActionApproved")
    out = standard.handler(approved, LambdaContext())
    assert out["event"] == "ActionCompleted"
    assert out["result"]["approved_by"] is None  # the first outcome, replayed
    assert ledger(workers).count_refunds("both") == 1


def test_a_rejection_for_an_unsaved_conversation_creates_no_ownerless_one(workers):
    """The requesting turn was never saved: the note is skipped rather than written into a
    new conversation nobody owns (which anyone could then read)."""
    approval.handler(
        refund_event(5000, action_id="ghost", conversation_id="ghost"), LambdaContext()
    )
    assert decide("ghost", "reject", reason="no")[0] == 200
    assert workers.items("CONV#ghost") == []


def test_an_approval_is_bound_to_the_payload_it_approved(workers):
    """The approval records a digest of the action; a worker performs only when the action
    it would perform, the approval's digest and the event's digest agree."""
    from agentocore.approvals import ApprovalNotFound

    approval.handler(refund_event(5000, action_id="bound-1"), LambdaContext())
    assert decide("bound-1", "approve")[0] == 200
    [approved] = workers.bus_events("ActionApproved")
    assert len(approved["detail"]["digest"]) == 64

    forged = {**approved, "detail": {**approved["detail"], "digest": "0" * 64}}
    with pytest.raises(ApprovalRequired, match="digest"):
        standard.handler(forged, LambdaContext())
    # the recorded action altered after the decision (its amount raised): nothing is performed
    record = workers.items("APPROVAL#bound-1")[0]
    action = json.loads(record["action"]["S"])
    action["payload"]["amount"] = 900_000
    workers.dynamodb.update_item(
        TableName=workers.table,
        Key={"PK": record["PK"], "SK": record["SK"]},
        UpdateExpression="SET #a = :a",
        ExpressionAttributeNames={"#a": "action"},
        ExpressionAttributeValues={":a": {"S": json.dumps(action)}},
    )
    with pytest.raises(ApprovalRequired, match="digest"):
        standard.handler(approved, LambdaContext())
    # an ActionApproved for an approval nobody recorded
    nothing = {**approved, "detail": {**approved["detail"], "approval_id": "never"}}
    with pytest.raises(ApprovalNotFound):
        standard.handler(nothing, LambdaContext())
    assert ledger(workers).count_refunds("bound-1") == 0


def test_the_same_action_id_with_another_payload_gets_no_approval(workers):
    """Not a redelivery (the payload differs): refused by the workers' idempotency check, and
    by the approval's digest where that record already exists."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyValidationError,
    )

    approval.handler(refund_event(5000, action_id="twin"), LambdaContext())
    with pytest.raises(IdempotencyValidationError):
        approval.handler(refund_event(9000, action_id="twin"), LambdaContext())
    approval.request_once.reset()
    [record] = workers.items("idempotency#approval_worker#")  # its own partition
    workers.dynamodb.delete_item(  # the idempotency record gone (expired): the digest holds
        TableName=workers.table, Key={"PK": record["PK"], "SK": record["SK"]}
    )
    with pytest.raises(ActionError, match="different payload"):
        approval.handler(refund_event(9000, action_id="twin"), LambdaContext())
    [record] = workers.items("APPROVAL#twin")
    assert json.loads(record["action"]["S"])["payload"]["amount"] == 5000


def test_a_request_no_saved_turn_made_performs_nothing_anywhere(workers):
    """Any principal with PutEvents can claim the actions' source: a request that is not in its
    conversation's outbox, or differs from what the turn saved, is refused by both workers (so it
    is retried, then dead-lettered and recorded); no refund, no approval, no event."""
    forged = refund_event(50, action_id="forged", saved=False)
    with pytest.raises(UnrequestedAction, match="no saved turn"):
        standard.handler(forged, LambdaContext())
    big = refund_event(5000, action_id="forged-big", saved=False)
    with pytest.raises(UnrequestedAction, match="no saved turn"):
        approval.handler(big, LambdaContext())
    # a saved request, altered on the way (another amount, another requester)
    for field, value in (("amount", 999.0), ("order_id", "B-2002")):
        altered = refund_event(50, action_id=f"altered-{field}")
        altered["detail"]["payload"][field] = value
        with pytest.raises(UnrequestedAction, match="differs"):
            standard.handler(altered, LambdaContext())
    other_requester = refund_event(5000, action_id="altered-requester")
    other_requester["detail"]["requested_by"] = "mallory"
    with pytest.raises(UnrequestedAction, match="differs"):
        approval.handler(other_requester, LambdaContext())
    no_conversation = refund_event(50, action_id="nowhere", saved=False)
    del no_conversation["detail"]["conversation_id"]
    with pytest.raises(UnrequestedAction, match="names no conversation"):
        standard.handler(no_conversation, LambdaContext())
    assert workers.items("REFUND#") == [] and workers.items("APPROVAL#") == []
    assert worker_events(workers) == []


def list_page(query):
    event = http_event("GET", "/approvals", query=query, sub="boss", groups="[approvers]")
    return response_json(approval.handler(event, LambdaContext()))


def test_the_approvals_list_pages_through_every_shard(workers):
    """GET /approvals with a small limit: every pending approval once, oldest first, across
    the index shards; a token no listing made is a 400."""
    ids = [f"big-{n:02d}" for n in range(9)]
    for approval_id in ids:
        approval.handler(refund_event(5000, action_id=approval_id), LambdaContext())
    shards = {i["user_id"]["S"] for i in workers.items("APPROVAL#")}
    assert len(shards) > 1 and all(s.startswith("APPROVALS#pending#") for s in shards)
    listed, query = [], {"limit": "2"}
    while True:
        status, page = list_page(query)
        assert status == 200 and len(page["approvals"]) <= 2
        listed += [a["approval_id"] for a in page["approvals"]]
        if not page["next_token"]:
            break
        query = {"limit": "2", "next_token": page["next_token"]}
    created = sorted(ids, key=lambda i: workers.items(f"APPROVAL#{i}")[0]["created_at"]["S"])
    assert listed == created
    status, err = list_page({"next_token": "eyJ2IjogOX0="})  # {"v": 9}
    assert (status, err["error"]["code"]) == (400, "invalid_token")
