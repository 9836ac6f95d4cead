"""tests/iam/evaluator.py on small literal policies: the IAM semantics the policy matrix relies on
(set operators on multivalued keys, the absent-key pitfall, explicit deny) and errors for cases
that name no real action or resource."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.iam.evaluator import Request, Result, evaluate

# Without node the evaluator cannot run; with node but without `make iam-sim` the tests fail.
pytestmark = [
    pytest.mark.host,  # the emulator and tooling: host Python only (not `make compat`)
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH"),
]

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/agentocore-t"
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/agentocore-bus"
KEYS = "dynamodb:LeadingKeys"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def put_items(*, null_guard: bool) -> dict[str, Any]:
    condition: dict[str, Any] = {"ForAllValues:StringLike": {KEYS: ["CONV#*", "OUTBOX#*"]}}
    if null_guard:
        condition["Null"] = {KEYS: "false"}
    return {
        "Sid": "Items",
        "Effect": "Allow",
        "Action": ["dynamodb:PutItem"],
        "Resource": TABLE,
        "Condition": condition,
    }


PUBLISH = {
    "Sid": "Publish",
    "Effect": "Allow",
    "Action": ["events:PutEvents"],
    "Resource": BUS,
    "Condition": {
        "ForAllValues:StringEquals": {
            "events:source": ["agentocore.agent"],
            "events:detail-type": ["AgentExecutionCompleted"],
        },
        "Null": {"events:source": "false", "events:detail-type": "false"},
    },
}


def one(policies: list[dict[str, Any]], request: Request) -> Result:
    (result,) = evaluate(policies, [request])
    assert not result.problems, result.problems
    return result


@pytest.mark.parametrize(
    ("keys", "allowed"),
    [
        (["CONV#c1"], True),
        (["CONV#c1", "OUTBOX#c1"], True),
        (["APPROVAL#a1"], False),
        (["CONV#c1", "APPROVAL#a1"], False),  # every value must match (ForAllValues)
        (["conv#c1"], False),  # StringLike is case-sensitive
    ],
)
def test_leading_keys_for_all_values(keys: list[str], allowed: bool) -> None:
    result = one(
        [policy(put_items(null_guard=True))], Request("dynamodb:PutItem", TABLE, {KEYS: keys})
    )
    assert result.allowed is allowed, result


def test_absent_leading_keys_pass_for_all_values_without_a_null_guard() -> None:
    """AWS's pitfall: ForAllValues over an empty set is true, so a request without the key (a
    Scan, any call without a partition key) passes unless Null false requires the key."""
    request = Request("dynamodb:PutItem", TABLE, {})
    assert one([policy(put_items(null_guard=False))], request).allowed
    guarded = one([policy(put_items(null_guard=True))], request)
    assert not guarded.allowed
    assert "Null" in guarded.reason


def test_put_events_source_and_detail_type() -> None:
    policies = [policy(PUBLISH)]
    cases = [
        (
            {
                "events:source": ["agentocore.agent"],
                "events:detail-type": ["AgentExecutionCompleted"],
            },
            True,
        ),
        (
            {"events:source": ["agentocore.approvals"], "events:detail-type": ["ActionApproved"]},
            False,
        ),
        ({"events:source": ["agentocore.agent"], "events:detail-type": ["ActionApproved"]}, False),
        # one PutEvents call, two entries: every source must be allowed
        (
            {
                "events:source": ["agentocore.agent", "agentocore.actions"],
                "events:detail-type": ["AgentExecutionCompleted"],
            },
            False,
        ),
        ({"events:detail-type": ["AgentExecutionCompleted"]}, False),  # source absent
    ]
    results = evaluate(policies, [Request("events:PutEvents", BUS, ctx) for ctx, _ in cases])
    for result, (_, allowed) in zip(results, cases, strict=True):
        assert not result.problems, result
        assert result.allowed is allowed, result
    other_bus = BUS.replace("agentocore-bus", "default")
    context = cases[0][0]
    assert not one(policies, Request("events:PutEvents", other_bus, context)).allowed


def test_multivalued_key_with_a_single_value_operator_never_matches() -> None:
    """events:source is ArrayOfString: plain StringEquals fails even for the right source."""
    plain = {**PUBLISH, "Condition": {"StringEquals": {"events:source": "agentocore.agent"}}}
    context = {"events:source": ["agentocore.agent"], "events:detail-type": ["X"]}
    result = one([policy(plain)], Request("events:PutEvents", BUS, context))
    assert not result.allowed
    assert "set operator" in result.reason


def test_explicit_deny_wins_over_an_allow() -> None:
    allow_all = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": TABLE}
    deny = {"Sid": "NoDelete", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}
    request = Request("dynamodb:DeleteItem", TABLE, {KEYS: ["CONV#c1"]})
    assert one([policy(allow_all)], request).allowed
    result = one([policy(allow_all), policy(deny)], request)
    assert result.decision == "ExplicitlyDenied"
    assert "NoDelete" in result.reason


def test_a_failed_condition_is_an_implicit_deny_another_allow_can_grant() -> None:
    request = Request("dynamodb:PutItem", TABLE, {KEYS: ["APPROVAL#a1"]})
    narrow = one([policy(put_items(null_guard=True))], request)
    assert narrow.decision == "ImplicitlyDenied"
    wide = {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE}
    assert one([policy(put_items(null_guard=True), wide)], request).allowed


def test_invalid_requests_are_errors_not_denials() -> None:
    policies = [policy(put_items(null_guard=True))]
    typo, wrong_arn, foreign_key = evaluate(
        policies,
        [
            Request("dynamodb:PutIten", TABLE, {KEYS: ["CONV#c1"]}),
            Request("dynamodb:PutItem", BUS, {KEYS: ["CONV#c1"]}),
            Request("dynamodb:Scan", TABLE, {KEYS: ["CONV#c1"]}),  # Scan takes no LeadingKeys
        ],
    )
    assert typo.decision is None and typo.problems, typo
    assert "invalid.action" in typo.reason
    assert wrong_arn.decision is None and wrong_arn.problems, wrong_arn
    assert foreign_key.problems == ("context key not used by the action: dynamodb:LeadingKeys",)
