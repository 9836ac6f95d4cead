"""Who may see and decide approvals, and who an SNS message acts as, through the deployed
stack (the approvals' routes are approval_worker's integration)."""

from __future__ import annotations

import json
import uuid

from .conftest import item, turns, wait_for


def large_refund(api, aws, outputs, user):
    conversation = f"e2e-appr-{uuid.uuid4().hex[:6]}"
    status, body = api.call(
        "POST",
        f"/conversations/{conversation}/messages",
        {"message": "Refund order A-2002, it arrived broken"},
        user=user,
    )
    assert status == 200, body
    action_id = body["actions"][0]["action_id"]
    assert wait_for(lambda: item(aws, outputs, f"APPROVAL#{action_id}"))
    return action_id


def test_a_non_approver_can_neither_list_nor_decide(api, aws, outputs):
    action_id = large_refund(api, aws, outputs, "alice")
    for call in (
        ("GET", "/approvals", None),
        ("GET", "/approvals?status=approved", None),
        ("POST", f"/approvals/{action_id}", {"decision": "approve"}),
        ("POST", f"/approvals/{action_id}", {"decision": "reject", "reason": "no"}),
    ):
        status, err = api.call(*call, user="mallory")
        assert (status, err["error"]["code"]) == (403, "forbidden"), call
    assert item(aws, outputs, f"APPROVAL#{action_id}")["status"]["S"] == "pending"
    status, _ = api.call("GET", "/approvals", user=None)
    assert status == 401  # the JWT authorizer answers before approval_worker runs


def test_an_approver_cannot_approve_their_own_request(api, aws, outputs):
    """Being in the approvers' group does not make one's own request approvable."""
    action_id = large_refund(api, aws, outputs, "approver")
    status, err = api.call(
        "POST", f"/approvals/{action_id}", {"decision": "approve"}, user="approver"
    )
    assert (status, err["error"]["code"]) == (403, "forbidden")
    assert item(aws, outputs, f"APPROVAL#{action_id}")["status"]["S"] == "pending"
    assert item(aws, outputs, f"REFUND#{action_id}") is None


def test_an_sns_message_naming_a_user_acts_as_the_topic(api, aws, outputs, captures):
    """The workspace does not trust SNS user ids: a message naming alice runs as sns:<topic>;
    on alice's conversation it fails (retried, dead-lettered, recorded, alerted) and changes
    nothing; a new conversation it starts belongs to the topic, not to alice."""
    mine = f"e2e-sns-trust-{uuid.uuid4().hex[:6]}"
    assert api.call("POST", f"/conversations/{mine}/messages", {"message": "hello"})[0] == 200
    topic = outputs["inbound_topic_arn"]
    other = f"e2e-sns-trust-{uuid.uuid4().hex[:6]}"
    for conversation in (mine, other):
        message = {
            "message": "What's the status of order A-1001?",
            "conversation_id": conversation,
            "user_id": "alice",
        }
        aws("sns").publish(TopicArn=topic, Message=json.dumps(message))
    owner = wait_for(lambda: (m := item(aws, outputs, f"CONV#{other}")) and m.get("user_id"))
    assert owner == {"S": f"sns:{topic.rsplit(':', 1)[-1]}"}
    status, err = api.call("GET", f"/conversations/{other}")  # alice: not hers
    assert (status, err["error"]["code"]) == (404, "not_found")
    alert = captures["alerts"].find(
        lambda m: "ConversationNotFound" in str(m.get("error")) and mine in str(m.get("error")),
        timeout_s=240,
    )
    assert alert is not None, "the impersonating message did not end on the failure path"
    assert len(turns(aws, outputs, mine)) == 2  # alice's conversation untouched
