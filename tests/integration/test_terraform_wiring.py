"""The deployed wiring, read from `terraform show -json` of the applied state."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_FOLDERS = sorted(
    p.name for p in (ROOT / "functions").iterdir() if (p / "handler.py").exists()
)

# workspace ci deploys the e2e tests' app (ci.tfvars): the rules come from its catalog file
CATALOG = json.loads((ROOT / "tests" / "e2e" / "e2e_app" / "catalog.json").read_text())
# rule key -> (function role it must target, its DLQ's key)
EXPECTED_ROUTES = {
    "invocation": ("agent_executor", "invocation"),
    "invocation_priority": ("agent_executor_priority", "invocation_priority"),
    "approved": ("standard_worker", "approved"),
    "action_progress": ("agent_executor", "action_progress"),
    **{
        rule["key"]: (worker, "actions_" + worker.removesuffix("_worker"))
        for action in CATALOG["actions"].values()
        for worker, rule in action["rules"].items()
    },
}


def by_type(resources, kind):
    return [r for r in resources if r["type"] == kind]


def function_role(address: str) -> str:
    return re.search(r'module\.functions\["([a-z_]+)"\]', address).group(1)


def test_every_function_folder_has_a_function(resources, outputs):
    functions = by_type(resources, "aws_lambda_function")
    deployed_code = {Path(f["values"]["filename"]).stem for f in functions}
    assert deployed_code == set(FUNCTION_FOLDERS)
    assert set(outputs["function_names"]) == {*FUNCTION_FOLDERS, "agent_executor_priority"}
    for f in functions:
        v = f["values"]
        assert v["tracing_config"][0]["mode"] == "Active"
        assert v["layers"] and v["handler"] == "handler.handler"
        assert v["dead_letter_config"][0]["target_arn"]


def test_each_rule_targets_the_right_function_with_retries_and_a_dlq(resources, outputs):
    rules = {r["values"]["name"]: r for r in by_type(resources, "aws_cloudwatch_event_rule")}
    targets = [
        t
        for t in by_type(resources, "aws_cloudwatch_event_target")
        if "module.event_bus" in t["address"] and "unrouted" not in t["address"]
    ]
    assert len(targets) == len(EXPECTED_ROUTES)
    bus = outputs["event_bus_name"]
    for target in targets:
        key = re.search(r'this\["([A-Za-z0-9_-]+)"\]', target["address"]).group(1)
        v = target["values"]
        role, dlq = EXPECTED_ROUTES[key]
        assert v["arn"].endswith(f":function:{outputs['function_names'][role]}"), key
        assert rules[v["rule"]]["values"]["event_bus_name"] == bus
        assert v["dead_letter_config"][0]["arn"].endswith(f"{dlq}-dlq")
        assert v["retry_policy"][0]["maximum_retry_attempts"] > 0
    schedule = next(
        t for t in by_type(resources, "aws_cloudwatch_event_target") if "triggers" in t["address"]
    )
    assert schedule["values"]["dead_letter_config"][0]["arn"].endswith("schedule-dlq")
    # events no rule routes go to a queue dlq_handler drains, not into the void
    [unrouted] = [
        t
        for t in by_type(resources, "aws_cloudwatch_event_target")
        if t["address"].endswith('this["unrouted_actions"]')
    ]
    assert unrouted["values"]["arn"].endswith("-unrouted-dlq")
    assert unrouted["values"]["dead_letter_config"][0]["arn"].endswith("-bus-dlq")


def test_the_deployed_rules_are_the_catalogs(resources):
    """Each action rule on the bus carries exactly the pattern the catalog file (generated from
    the app's Python declarations) gives it, and the catch-all is the catalog's."""
    patterns = {
        re.search(r'this\["([A-Za-z0-9_-]+)"\]', r["address"]).group(1): json.loads(
            r["values"]["event_pattern"]
        )
        for r in by_type(resources, "aws_cloudwatch_event_rule")
        if "event_bus" in r["address"]
    }
    for action in CATALOG["actions"].values():
        for rule in action["rules"].values():
            assert patterns[rule["key"]] == rule["pattern"]
    assert patterns["unrouted_actions"] == CATALOG["unrouted"]
    refund = patterns["perform-RefundOrder"]["detail"]["payload"]
    assert refund["amount"] == [{"numeric": ["<=", 1000]}] and refund["high_risk"] == [False]
    assert patterns["invocation_priority"]["detail"]["priority"] == ["high"]


def test_every_dead_letter_queue_is_drained_and_alarmed(resources, outputs):
    mappings = [
        m
        for m in by_type(resources, "aws_lambda_event_source_mapping")
        if ":sqs:" in m["values"]["event_source_arn"]  # not the table's stream (outbox_relay)
    ]
    drained = {m["values"]["event_source_arn"].rsplit(":", 1)[-1] for m in mappings}
    queues = {q["values"]["name"] for q in by_type(resources, "aws_sqs_queue")}
    prefix = outputs["function_names"]["dlq_handler"].removesuffix("-dlq-handler")
    terminal = f"{prefix}-unprocessable-dlq"
    assert drained == queues - {terminal}
    for m in mappings:
        assert m["values"]["function_name"].endswith(outputs["function_names"]["dlq_handler"])
        assert m["values"]["function_response_types"] == ["ReportBatchItemFailures"]
    alarmed = {
        a["values"]["dimensions"].get("QueueName")
        for a in by_type(resources, "aws_cloudwatch_metric_alarm")
    }
    assert queues <= alarmed
    for q in by_type(resources, "aws_sqs_queue"):
        assert q["values"]["sqs_managed_sse_enabled"] is True
        if q["values"]["name"] == terminal:  # every drained queue redrives here
            assert json.loads(q["values"]["redrive_allow_policy"]) == {
                "redrivePermission": "allowAll"
            }
            continue
        assert json.loads(q["values"]["redrive_allow_policy"]) == {"redrivePermission": "denyAll"}
        assert json.loads(q["values"]["redrive_policy"])["deadLetterTargetArn"].endswith(terminal)


def policies(resources):
    out = {}
    for p in by_type(resources, "aws_iam_role_policy"):
        out[function_role(p["address"])] = json.loads(p["values"]["policy"])["Statement"]
    return out


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_iam_statement_has_a_wildcard_action(resources):
    for role, statements in policies(resources).items():
        for st in statements:
            for action in as_list(st["Action"]):
                assert "*" not in action, f"{role}: {action}"


def test_each_function_policy_names_only_its_own_resources(resources, outputs):
    by_address = {r["address"]: r["values"] for r in resources}
    table = next(r["values"]["arn"] for r in resources if r["type"] == "aws_dynamodb_table")
    key = next(r["values"]["arn"] for r in resources if r["type"] == "aws_kms_key")
    topics = {
        r["values"]["name"].rsplit("-", 1)[-1]: r["values"]["arn"]
        for r in by_type(resources, "aws_sns_topic")
    }
    queues = {r["values"]["name"]: r["values"]["arn"] for r in by_type(resources, "aws_sqs_queue")}
    bus = next(r["values"]["arn"] for r in resources if r["type"] == "aws_cloudwatch_event_bus")
    bucket = outputs["inbox_bucket"]
    secrets = {r["values"]["arn"] for r in by_type(resources, "aws_secretsmanager_secret")}
    assert secrets, "the example's tool secret (secrets.tf) is deployed"
    socket_api = next(
        r["values"]["execution_arn"]
        for r in by_type(resources, "aws_apigatewayv2_api")
        if r["values"]["protocol_type"] == "WEBSOCKET"
    )
    account = table.split(":")[4]
    for role, statements in policies(resources).items():
        name = outputs["function_names"][role]
        log_group = by_address[f'module.functions["{role}"].aws_cloudwatch_log_group.this']["arn"]
        prefix = name[: -len(role) - 1]
        sync_only = role in ("dlq_handler", "ws_authorizer")  # no asynchronous invocations
        own_dlq = "unprocessable" if sync_only else f"fn_{role}"
        allowed = {f"{log_group}:*", key, queues[f"{prefix}-{own_dlq}-dlq"]}
        if role.startswith("agent_executor"):
            allowed |= {
                table,
                f"{table}/index/UserIdIndex",
                bus,
                f"arn:aws:s3:::{bucket}/conversations/*",
                *secrets,  # the tools' secrets: GetSecretValue only (below)
                # the WebSocket API's connections (this stage's only) and its endpoint parameter
                f"{socket_api}/live/POST/@connections/*",
                f"arn:aws:ssm:us-east-1:{account}:parameter/{prefix}/ws-endpoint",
            }
            allowed |= {
                r
                for st in statements
                if st["Sid"] == "InvokeModel"
                for r in as_list(st["Resource"])
            }
        elif role == "standard_worker":
            allowed |= {table, bus}
        elif role == "approval_worker":
            allowed |= {table, f"{table}/index/UserIdIndex", topics["approvals"], bus}
        elif role == "outbox_relay":
            streams = f"{table}/stream/*"  # the table's streams, not the whole account's
            outbox_dlq = queues[f"{prefix}-outbox-dlq"]
            allowed |= {table, f"{table}/index/OutboxPendingIndex", bus, streams, outbox_dlq}
        elif role == "dlq_handler":
            allowed |= {table, topics["alerts"]}
            allowed |= set(queues.values())
        for st in statements:
            for resource in as_list(st["Resource"]):
                if resource == "*":
                    assert st["Sid"] == "XRay", f"{role}: '*' outside X-Ray"
                    continue
                assert resource in allowed, f"{role} may not touch {resource}"
        secret_statements = [st for st in statements if set(as_list(st["Resource"])) & secrets]
        if role.startswith("agent_executor"):
            [st] = secret_statements  # the functions that run tools, and only they
            assert as_list(st["Action"]) == ["secretsmanager:GetSecretValue"]
            assert set(as_list(st["Resource"])) == secrets
        else:
            assert secret_statements == [], f"{role} may not read the tools' secrets"
        model_arns = [
            r for st in statements if st["Sid"] == "InvokeModel" for r in as_list(st["Resource"])
        ]
        fn = by_address[f'module.functions["{role}"].aws_lambda_function.this']
        model = fn["environment"][0]["variables"]["AGENTOCORE_MODEL"]
        if role.startswith("agent_executor") and model.startswith("bedrock:"):
            model_id = model.removeprefix("bedrock:")
            assert model_arns and all(model_id.split(".", 1)[-1] in arn for arn in model_arns)
        else:
            assert model_arns == []  # no model permission unless the function invokes Bedrock
