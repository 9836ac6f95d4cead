"""Issue 12's trust boundaries as a policy matrix: per function, the (action, resource, context)
requests its applied role must allow and the escalations it must deny, evaluated with a real
IAM evaluator (``tests/iam``: ``@cloud-copilot/iam-simulate``, which implements AWS's set
operators, ``Null``, multivalued keys and explicit deny, and rejects unknown actions, resource
ARNs and context keys). moto's own IAM enforcement cannot do this (26 of 41 research cases;
``tests/integration/iam_research``). Policies and ARNs come from the applied state.

Every case states the context the service would send: ``dynamodb:LeadingKeys`` is the
partition key(s) of the item or query (a TransactWriteItems is authorized per element, so its
elements are cases of their own; a Scan sends none), ``events:source`` /
``events:detail-type`` the values of every entry of one PutEvents call.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.iam.evaluator import Request, Result, evaluate_batches
from tests.iam.state import function_roles, policy_for, resource_policies

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")

KEYS = "dynamodb:LeadingKeys"
TLS = {"aws:SecureTransport": "true"}
APP_PREFIXES = ("REFUND#", "SUBSCRIPTION#", "SHIPMENT#")  # tests/e2e/e2e_app/catalog.json


@dataclass(frozen=True)
class Case:
    """One request of one function; ``resource`` names a stack resource (see ``arns``)."""

    function: str
    allowed: bool
    why: str
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        verdict = "allows" if self.allowed else "denies"
        return f"{self.function} {verdict}: {self.why}"


def item(fn: str, allowed: bool, why: str, action: str, *keys: str, on: str = "table") -> Case:
    return Case(fn, allowed, why, f"dynamodb:{action}", on, {KEYS: list(keys)} if keys else {})


def publish(fn: str, allowed: bool, why: str, sources: list[str], types: list[str]) -> Case:
    context: dict[str, Any] = {}
    if sources:
        context["events:source"] = sources
    if types:
        context["events:detail-type"] = types
    return Case(fn, allowed, why, "events:PutEvents", "bus", context)


def common_denials(fn: str) -> list[Case]:
    """What no function may do with the table."""
    return [
        Case(fn, False, "cannot Scan the table", "dynamodb:Scan", "table"),
        Case(fn, False, "cannot Scan an index", "dynamodb:Scan", "index/UserIdIndex"),
        item(fn, False, "cannot delete audit items (FAILURE#)", "DeleteItem", "FAILURE#f1"),
        item(fn, False, "cannot delete an approval", "DeleteItem", "APPROVAL#a1"),
        item(fn, False, "cannot delete conversation items", "DeleteItem", "CONV#c1"),
        item(fn, False, "cannot delete its own idempotency records", "DeleteItem",
             f"idempotency#{fn}#0123abcd"),
        item(fn, False, "a read without partition key (context absent) is not allowed", "GetItem"),
        item(fn, False, "a write without partition key (context absent) is not allowed",
             "PutItem"),
        item(fn, False, "cannot batch-write (unconditioned action)", "BatchWriteItem", "CONV#c1"),
        Case(fn, False, "cannot invoke approval_worker directly", "lambda:InvokeFunction",
             "function/approval_worker"),
        Case(fn, False, "cannot change its own role", "iam:PutRolePolicy", "role/self"),
    ]  # fmt: skip


def agent_cases(fn: str) -> list[Case]:
    idem = f"idempotency#{fn.replace('_priority', '')}"
    return [
        item(fn, True, "reads its conversation", "GetItem", "CONV#c1"),
        item(fn, True, "queries a conversation's turns", "Query", "CONV#c1"),
        item(fn, True, "saves a turn (transaction element)", "PutItem", "CONV#c1"),
        item(fn, True, "updates the conversation", "UpdateItem", "CONV#c1"),
        item(fn, True, "checks the conversation version", "ConditionCheckItem", "CONV#c1"),
        item(fn, True, "writes the turn's outbox (transaction element)", "PutItem", "OUTBOX#c1"),
        item(fn, True, "reserves a daily budget", "UpdateItem", "BUDGET#user#alice#2026-01-01"),
        item(fn, True, "reads a daily budget", "GetItem", "BUDGET#tenant#t1#2026-01-01"),
        item(fn, True, "keeps its idempotency record", "PutItem", f"{idem}#0123abcd"),
        item(fn, True, "updates a scoped idempotency record", "UpdateItem",
             f"{idem}-http#0123abcd"),
        item(fn, False, "cannot use the old shared idempotency partition", "PutItem", idem),
        item(fn, True, "lists a user's conversations", "Query", "alice", on="index/UserIdIndex"),
        publish(fn, True, "starts a deferred run", ["agentocore.agent"],
                ["AgentInvocationRequested"]),
        publish(fn, True, "reports a run (both types in one call)", ["agentocore.agent"],
                ["AgentInvocationRequested", "AgentExecutionCompleted"]),
        Case(fn, True, "reads an uploaded conversation", "s3:GetObject",
             "object/conversations/alice/c1.json"),
        Case(fn, True, "dead-letters a failed async invocation", "sqs:SendMessage", f"dlq/{fn}"),
        # escalations
        item(fn, False, "cannot write an approved APPROVAL item", "PutItem", "APPROVAL#a1"),
        item(fn, False, "cannot flip an approval's status", "UpdateItem", "APPROVAL#a1"),
        item(fn, False, "cannot read approvals", "GetItem", "APPROVAL#a1"),
        item(fn, False, "cannot write ledger REFUND# items", "PutItem", "REFUND#o1"),
        item(fn, False, "cannot write SUBSCRIPTION# items", "UpdateItem", "SUBSCRIPTION#s1"),
        item(fn, False, "cannot forge failure records", "PutItem", "FAILURE#f1"),
        item(fn, False, "cannot forge standard_worker's idempotency record (suppress an action)",
             "PutItem", "idempotency#standard_worker#0123abcd"),
        item(fn, False, "cannot reach another name sharing its prefix", "PutItem",
             f"{idem}x#0123abcd"),
        item(fn, False, "multivalued LeadingKeys [CONV#x, APPROVAL#y]", "PutItem", "CONV#c1",
             "APPROVAL#a1"),
        item(fn, False, "a CONV# key in lower case is another item", "PutItem", "conv#c1"),
        item(fn, False, "cannot query APPROVALS#pending on the index", "Query",
             "APPROVALS#pending", on="index/UserIdIndex"),
        item(fn, False, "cannot query a pending approvals shard on the index", "Query",
             "APPROVALS#pending#3", on="index/UserIdIndex"),
        item(fn, False, "cannot query the outbox's pending index", "Query", "P0",
             on="index/OutboxPendingIndex"),
        publish(fn, False, "cannot publish ActionApproved", ["agentocore.approvals"],
                ["ActionApproved"]),
        publish(fn, False, "cannot publish agentocore.actions ActionRequested (bypass outbox)",
                ["agentocore.actions"], ["ActionRequested"]),
        publish(fn, False, "cannot publish ActionCompleted", ["agentocore.workers"],
                ["ActionCompleted"]),
        publish(fn, False, "cannot publish ActionApproved under its own source",
                ["agentocore.agent"], ["ActionApproved"]),
        publish(fn, False, "PutEvents with mixed sources (a forged entry in a batch)",
                ["agentocore.agent", "agentocore.approvals"],
                ["AgentExecutionCompleted", "ActionApproved"]),
        publish(fn, False, "PutEvents without a source", [], ["AgentExecutionCompleted"]),
        Case(fn, False, "cannot publish to another bus", "events:PutEvents", "default-bus",
             {"events:source": ["agentocore.agent"],
              "events:detail-type": ["AgentExecutionCompleted"]}),
        Case(fn, False, "cannot notify approvers", "sns:Publish", "topic/approvals"),
        Case(fn, False, "cannot raise alerts", "sns:Publish", "topic/alerts"),
        Case(fn, False, "cannot read inbox objects outside conversations/", "s3:GetObject",
             "object/other/x.json"),
        Case(fn, False, "cannot write to the inbox (impersonate an upload)", "s3:PutObject",
             "object/conversations/alice/c1.json"),
        Case(fn, False, "cannot inject into the approved-actions queue", "sqs:SendMessage",
             "queue/approved-dlq"),
        *common_denials(fn),
    ]  # fmt: skip


def approval_cases() -> list[Case]:
    fn = "approval_worker"
    return [
        item(fn, True, "reads an approval", "GetItem", "APPROVAL#a1"),
        item(fn, True, "records a pending approval", "PutItem", "APPROVAL#a1"),
        item(fn, True, "decides an approval", "UpdateItem", "APPROVAL#a1"),
        item(fn, True, "checks an approval in a transaction", "ConditionCheckItem", "APPROVAL#a1"),
        item(fn, True, "checks the request was saved by a turn", "GetItem", "OUTBOX#c1"),
        item(fn, True, "reads the conversation", "GetItem", "CONV#c1"),
        item(fn, True, "notes a rejection in the conversation", "UpdateItem", "CONV#c1"),
        item(fn, True, "keeps its idempotency record", "PutItem",
             "idempotency#approval_worker#0123abcd"),
        item(fn, True, "lists a pending approvals shard", "Query", "APPROVALS#pending#3",
             on="index/UserIdIndex"),
        item(fn, True, "lists the legacy unsharded pending partition", "Query",
             "APPROVALS#pending", on="index/UserIdIndex"),
        publish(fn, True, "announces a pending approval", ["agentocore.approvals"],
                ["ActionApprovalRequested"]),
        publish(fn, True, "publishes a decision", ["agentocore.approvals"],
                ["ActionApproved", "ActionRejected"]),
        Case(fn, True, "notifies approvers", "sns:Publish", "topic/approvals"),
        # escalations
        item(fn, False, "cannot forge an outbox entry (a request no turn saved)", "PutItem",
             "OUTBOX#c1"),
        item(fn, False, "cannot alter a saved action request", "UpdateItem", "OUTBOX#c1"),
        item(fn, False, "approval_worker cannot perform actions (REFUND# write)", "PutItem",
             "REFUND#o1"),
        item(fn, False, "cannot write SHIPMENT# items", "UpdateItem", "SHIPMENT#x1"),
        item(fn, False, "cannot reset daily budgets", "PutItem", "BUDGET#user#alice#2026-01-01"),
        item(fn, False, "cannot forge failure records", "PutItem", "FAILURE#f1"),
        item(fn, False, "cannot forge standard_worker's idempotency record", "PutItem",
             "idempotency#standard_worker#0123abcd"),
        item(fn, False, "multivalued LeadingKeys [APPROVAL#x, REFUND#y]", "PutItem", "APPROVAL#a1",
             "REFUND#o1"),
        item(fn, False, "cannot list a user's conversations", "Query", "alice",
             on="index/UserIdIndex"),
        publish(fn, False, "approval_worker cannot complete actions", ["agentocore.workers"],
                ["ActionCompleted"]),
        publish(fn, False, "cannot request actions", ["agentocore.actions"], ["ActionRequested"]),
        publish(fn, False, "cannot start agent runs", ["agentocore.agent"],
                ["AgentInvocationRequested"]),
        publish(fn, False, "cannot publish ActionRequested under its own source",
                ["agentocore.approvals"], ["ActionRequested"]),
        publish(fn, False, "PutEvents with mixed sources",
                ["agentocore.approvals", "agentocore.workers"],
                ["ActionApproved", "ActionCompleted"]),
        Case(fn, False, "cannot raise alerts", "sns:Publish", "topic/alerts"),
        *common_denials(fn),
    ]  # fmt: skip


def standard_cases() -> list[Case]:
    fn = "standard_worker"
    allowed = [
        case
        for prefix in APP_PREFIXES
        for case in (
            item(fn, True, f"reads {prefix} items", "GetItem", f"{prefix}x1"),
            item(fn, True, f"writes {prefix} items", "PutItem", f"{prefix}x1"),
            item(fn, True, f"updates {prefix} items", "UpdateItem", f"{prefix}x1"),
            item(fn, True, f"checks {prefix} items", "ConditionCheckItem", f"{prefix}x1"),
        )
    ]
    return [
        *allowed,
        item(fn, True, "checks an approval before performing", "GetItem", "APPROVAL#a1"),
        item(fn, True, "reads the saved action request", "GetItem", "OUTBOX#c1"),
        item(fn, True, "keeps its idempotency record", "PutItem",
             "idempotency#standard_worker#0123abcd"),
        item(fn, True, "keeps a scoped idempotency record", "UpdateItem",
             "idempotency#standard_worker-action#0123abcd"),
        publish(fn, True, "reports completions", ["agentocore.workers"],
                ["ActionCompleted", "ActionFailed"]),
        # escalations
        item(fn, False, "standard_worker cannot write approvals (approve its own action)",
             "PutItem", "APPROVAL#a1"),
        item(fn, False, "cannot flip an approval's status", "UpdateItem", "APPROVAL#a1"),
        item(fn, False, "cannot forge action requests in the outbox", "PutItem", "OUTBOX#c1"),
        item(fn, False, "cannot inject turns into conversations", "PutItem", "CONV#c1"),
        item(fn, False, "cannot read conversations", "GetItem", "CONV#c1"),
        item(fn, False, "cannot write items outside the catalog's prefixes", "PutItem",
             "PAYOUT#p1"),
        item(fn, False, "cannot forge approval_worker's idempotency record", "PutItem",
             "idempotency#approval_worker#0123abcd"),
        item(fn, False, "multivalued LeadingKeys [REFUND#x, APPROVAL#y]", "UpdateItem",
             "REFUND#o1", "APPROVAL#a1"),
        item(fn, False, "cannot query APPROVALS#pending on the index", "Query",
             "APPROVALS#pending", on="index/UserIdIndex"),
        publish(fn, False, "cannot publish ActionApproved", ["agentocore.approvals"],
                ["ActionApproved"]),
        publish(fn, False, "cannot publish ActionRequested", ["agentocore.actions"],
                ["ActionRequested"]),
        publish(fn, False, "PutEvents with mixed sources",
                ["agentocore.workers", "agentocore.approvals"],
                ["ActionCompleted", "ActionApproved"]),
        Case(fn, False, "cannot notify approvers", "sns:Publish", "topic/approvals"),
        *common_denials(fn),
    ]  # fmt: skip


def relay_cases() -> list[Case]:
    fn = "outbox_relay"
    marker = ["PK", "SK", "outbox_pending", "published_at"]
    return [
        item(fn, True, "reads an outbox item", "GetItem", "OUTBOX#c1"),
        Case(fn, True, "marks an outbox item published", "dynamodb:UpdateItem", "table",
             {KEYS: ["OUTBOX#c1"], "dynamodb:Attributes": marker}),
        item(fn, True, "finds unpublished items", "Query", "P0", on="index/OutboxPendingIndex"),
        Case(fn, True, "reads the table's stream", "dynamodb:GetRecords", "stream"),
        Case(fn, True, "iterates the stream", "dynamodb:GetShardIterator", "stream"),
        Case(fn, True, "describes the stream", "dynamodb:DescribeStream", "stream"),
        publish(fn, True, "publishes saved action requests", ["agentocore.actions"],
                ["ActionRequested"]),
        Case(fn, True, "sends failed batches to its on-failure queue", "sqs:SendMessage",
             "queue/outbox-dlq"),
        # escalations
        Case(fn, False, "cannot rewrite a saved action request's entries",
             "dynamodb:UpdateItem", "table",
             {KEYS: ["OUTBOX#c1"], "dynamodb:Attributes": [*marker, "entries"]}),
        item(fn, False, "cannot create outbox entries", "PutItem", "OUTBOX#c1"),
        item(fn, False, "cannot touch approvals", "UpdateItem", "APPROVAL#a1"),
        item(fn, False, "cannot read conversations", "GetItem", "CONV#c1"),
        item(fn, False, "cannot write ledger REFUND# items", "PutItem", "REFUND#o1"),
        item(fn, False, "cannot query APPROVALS#pending on the index", "Query",
             "APPROVALS#pending", on="index/UserIdIndex"),
        publish(fn, False, "cannot publish ActionApproved", ["agentocore.approvals"],
                ["ActionApproved"]),
        publish(fn, False, "cannot publish ActionCompleted", ["agentocore.workers"],
                ["ActionCompleted"]),
        publish(fn, False, "PutEvents with mixed sources",
                ["agentocore.actions", "agentocore.approvals"],
                ["ActionRequested", "ActionApproved"]),
        *common_denials(fn),
    ]  # fmt: skip


def dlq_cases() -> list[Case]:
    fn = "dlq_handler"
    return [
        item(fn, True, "reads a failure record", "GetItem", "FAILURE#f1"),
        item(fn, True, "records a failure", "PutItem", "FAILURE#f1"),
        item(fn, True, "updates a failure record", "UpdateItem", "FAILURE#f1"),
        Case(fn, True, "raises alerts", "sns:Publish", "topic/alerts"),
        Case(fn, True, "drains a function's dead letters", "sqs:ReceiveMessage",
             "dlq/agent_executor"),
        Case(fn, True, "deletes a drained dead letter", "sqs:DeleteMessage", "dlq/agent_executor"),
        # escalations
        item(fn, False, "cannot write approvals", "PutItem", "APPROVAL#a1"),
        item(fn, False, "cannot forge outbox entries", "PutItem", "OUTBOX#c1"),
        item(fn, False, "cannot write conversations", "PutItem", "CONV#c1"),
        item(fn, False, "cannot write ledger REFUND# items", "PutItem", "REFUND#o1"),
        item(fn, False, "multivalued LeadingKeys [FAILURE#x, APPROVAL#y]", "PutItem", "FAILURE#f1",
             "APPROVAL#a1"),
        publish(fn, False, "cannot publish ActionApproved", ["agentocore.approvals"],
                ["ActionApproved"]),
        publish(fn, False, "cannot publish ActionRequested", ["agentocore.actions"],
                ["ActionRequested"]),
        Case(fn, False, "cannot notify approvers", "sns:Publish", "topic/approvals"),
        *common_denials(fn),
    ]  # fmt: skip


CASES = [
    *agent_cases("agent_executor"),
    *agent_cases("agent_executor_priority"),
    *approval_cases(),
    *standard_cases(),
    *relay_cases(),
    *dlq_cases(),
]


def arns(resources: list[dict[str, Any]], outputs: dict[str, Any]) -> dict[str, str]:
    """Stack resource names used by the cases -> ARNs from the applied state."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(r["type"], []).append(r["values"])
    (table,) = by_type["aws_dynamodb_table"]
    (bus,) = by_type["aws_cloudwatch_event_bus"]
    region, account = table["arn"].split(":")[3:5]
    prefix = outputs["table_name"].removesuffix("-memory")
    found = {
        "table": table["arn"],
        "stream": table["stream_arn"],
        "bus": bus["arn"],
        "default-bus": f"arn:aws:events:{region}:{account}:event-bus/default",
        "role/self": f"arn:aws:iam::{account}:role/{prefix}-agent-executor",
    }
    for name in ("UserIdIndex", "OutboxPendingIndex"):
        found[f"index/{name}"] = f"{table['arn']}/index/{name}"
    for topic in by_type["aws_sns_topic"]:
        found[f"topic/{topic['name'].removeprefix(prefix + '-')}"] = topic["arn"]
    for queue in by_type["aws_sqs_queue"]:
        found[f"queue/{queue['name'].removeprefix(prefix + '-')}"] = queue["arn"]
    for fn in by_type["aws_lambda_function"]:
        key = next(k for k, v in outputs["function_names"].items() if v == fn["function_name"])
        found[f"function/{key}"] = fn["arn"]
        found[f"dlq/{key}"] = fn["dead_letter_config"][0]["target_arn"]
    bucket = f"arn:aws:s3:::{outputs['inbox_bucket']}"
    found.update({"object/conversations/alice/c1.json": f"{bucket}/conversations/alice/c1.json"})
    found["object/other/x.json"] = f"{bucket}/other/x.json"
    return found


@pytest.fixture(scope="session")
def matrix(resources: list[dict[str, Any]], outputs: dict[str, Any]) -> dict[str, Result]:
    """Every case evaluated (one Node process), by case id."""
    roles = function_roles(resources)
    on_resources = resource_policies(resources)
    names = arns(resources, outputs)
    by_function: dict[str, list[Case]] = {}
    for case in CASES:
        by_function.setdefault(case.function, []).append(case)
    batches = []
    for fn, cases in by_function.items():
        role = roles[outputs["function_names"][fn]]
        requests = [
            Request(
                c.action,
                names[c.resource],
                {**c.context, **TLS},
                name=c.id,
                principal=role.role_arn,
                resource_policy=policy_for(on_resources, names[c.resource]),
            )
            for c in cases
        ]
        batches.append((list(role.policies), requests))
    results = [r for batch in evaluate_batches(batches) for r in batch]
    return {r.request.name: r for r in results}


def test_matrix_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_policy_matrix(case: Case, matrix: dict[str, Result]) -> None:
    result = matrix[case.id]
    assert not result.problems, f"the case is not a valid request: {result} {result.problems}"
    assert result.allowed is case.allowed, str(result)


def test_no_function_has_delete_scan_or_wildcard_actions(resources: list[dict[str, Any]]) -> None:
    """The matrix's complement: no statement names DeleteItem, Scan or a wildcard action."""
    for role in function_roles(resources).values():
        for policy in role.policies:
            for statement in policy["Statement"]:
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                assert "NotAction" not in statement, (role.function, statement)
                for action in actions:
                    assert "*" not in action, (role.function, action)
                    assert action not in ("dynamodb:DeleteItem", "dynamodb:Scan"), (
                        role.function,
                        action,
                    )


def test_only_approval_worker_writes_approvals_and_only_standard_worker_app_items(
    matrix: dict[str, Result], outputs: dict[str, Any], resources: list[dict[str, Any]]
) -> None:
    """Across all roles (not only the cases above): who may write APPROVAL# and app items."""
    roles = function_roles(resources)
    table = arns(resources, outputs)["table"]
    writers: dict[str, set[str]] = {}
    batches = []
    keys = ["APPROVAL#a1", *(f"{p}x1" for p in APP_PREFIXES)]
    for fn, deployed in outputs["function_names"].items():
        role = roles[deployed]
        requests = [
            Request(f"dynamodb:{a}", table, {KEYS: [k], **TLS}, name=f"{fn}|{k}|{a}")
            for k in keys
            for a in ("PutItem", "UpdateItem")
        ]
        batches.append((list(role.policies), requests))
    for batch in evaluate_batches(batches):
        for result in batch:
            assert not result.problems, result
            if result.allowed:
                fn, key, _ = result.request.name.split("|")
                writers.setdefault(key, set()).add(fn)
    assert writers.get("APPROVAL#a1") == {"approval_worker"}
    for prefix in APP_PREFIXES:
        assert writers.get(f"{prefix}x1") == {"standard_worker"}, prefix
