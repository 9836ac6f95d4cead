"""Every AWS call the functions made in a test run, evaluated against their applied roles.

    python localstack/aws_call_check.py CALL_LOG STATE_JSON

``CALL_LOG`` is what ``aws_call_log.py`` recorded (JSON lines), ``STATE_JSON`` the
``terraform show -json`` of the applied workspace. Each recorded call's IAM requests are
evaluated against the role policies of the function that made it (``tests/iam/evaluator.py``:
a real IAM evaluator), together with what Lambda itself does with the role (event source
mappings reading their sources and writing their on-failure destinations, the dead-letter
queue, logs, the environment's KMS key). Exit 1 if any request is denied or could not be
evaluated, or if nothing was recorded: least-privilege policies must still allow everything
the code really does.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.iam.evaluator import Request, evaluate_batches  # noqa: E402
from tests.iam.state import function_roles, managed, policy_for, resource_policies  # noqa: E402

# Every request the functions send goes over TLS (the bucket's policy denies anything else).
TRANSPORT = {"aws:SecureTransport": "true"}


@dataclass
class Role:
    """One function's role: its policy documents and the requests to evaluate."""

    function: str
    arn: str
    policies: list[dict[str, Any]]
    resource_policies: dict[str, dict[str, Any]]
    requests: dict[tuple[str, str, str], Request] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def add(self, action: str, resource: str, context: dict[str, Any], origin: str) -> None:
        key = (action, resource, json.dumps(context, sort_keys=True))
        if key not in self.requests:
            self.requests[key] = Request(
                action,
                resource,
                {**context, **TRANSPORT},
                name=f"{self.function} {origin}",
                principal=self.arn,
                resource_policy=policy_for(self.resource_policies, resource),
            )


def roles_from_state(resources: list[dict[str, Any]]) -> dict[str, Role]:
    """Function name -> Role, with the role's inline policies and Lambda's own uses of it."""
    applied = function_roles(resources)
    on_resources = resource_policies(resources)
    roles: dict[str, Role] = {}
    for r in resources:
        if r["type"] != "aws_lambda_function":
            continue
        v = r["values"]
        fn = applied[v["function_name"]]
        role = Role(fn.function, fn.role_arn, list(fn.policies), on_resources)
        region, account = v["arn"].split(":")[3:5]
        for dlq in v.get("dead_letter_config") or []:
            role.add("sqs:SendMessage", dlq["target_arn"], {}, "Lambda: dead-letter queue")
        if v.get("kms_key_arn"):
            role.add("kms:Decrypt", v["kms_key_arn"], {}, "Lambda: environment key")
        for logging in v.get("logging_config") or []:
            group = f"arn:aws:logs:{region}:{account}:log-group:{logging['log_group']}"
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                role.add(action, f"{group}:log-stream:2026/01/01/[$LATEST]0", {}, "Lambda: logs")
        roles[v["function_name"]] = role
    for r in resources:
        if r["type"] != "aws_lambda_event_source_mapping":
            continue
        v = r["values"]
        role = roles.get(v["function_name"].rsplit(":", 1)[-1])
        if role is None:
            continue
        source = v["event_source_arn"]
        origin = "Lambda: event source mapping"
        if ":sqs:" in source:
            for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"):
                role.add(f"sqs:{action}", source, {}, origin)
        elif "/stream/" in source:
            # (and ListStreams, which AWS's reference authorizes on "*" only: not evaluated)
            for action in ("DescribeStream", "GetRecords", "GetShardIterator"):
                role.add(f"dynamodb:{action}", source, {}, origin)
        for config in v.get("destination_config") or []:
            for failure in config.get("on_failure") or []:
                target = failure["destination_arn"]
                action = "sqs:SendMessage" if ":sqs:" in target else "sns:Publish"
                role.add(action, target, {}, f"{origin}: on-failure destination")
    return roles


def secret_arns(resources: list[dict[str, Any]]) -> dict[str, str]:
    return {
        r["values"]["name"]: r["values"]["arn"]
        for r in resources
        if r["type"] == "aws_secretsmanager_secret"
    }


def check(log: Path, state: dict[str, Any]) -> tuple[list[str], str]:
    """(failures, summary) of the recorded calls and Lambda's own uses of the roles."""
    resources = managed(state)
    roles = roles_from_state(resources)
    secrets = secret_arns(resources)
    failures: list[str] = []
    recorded = 0
    lines = log.read_text().splitlines() if log.exists() else []
    for line in lines:
        call = json.loads(line)
        role = roles.get(call["function"])
        if role is None:  # another workspace's function
            continue
        recorded += 1
        operation = f"{call['service']}.{call['operation']}"
        role.calls[operation] += 1
        if call.get("unmapped") or call.get("error"):
            failures.append(
                f"{role.function} {operation}: aws_call_log.py cannot tell which IAM requests it "
                f"needs ({call.get('error', 'unmapped')}); add it there"
            )
            continue
        for req in call["requests"]:
            resource = req["resource"]
            if ":secretsmanager:" in resource:
                resource = secrets.get(resource.split(":secret:", 1)[1], resource)
            role.add(req["action"], resource, req["context"], f"called {operation}")
    if recorded == 0:
        failures.append(
            f"no AWS call of this workspace's functions in {log}: was the emulator started with "
            "AGENTOCORE_AWS_CALL_LOG (make localstack-test starts it so)?"
        )
        return failures, "nothing recorded"
    batches = [(role.policies, list(role.requests.values())) for role in roles.values()]
    results = [r for batch in evaluate_batches(batches) for r in batch]
    for result in results:
        if result.problems or not result.allowed:
            failures.append(
                f"{result}{' ' + str(list(result.problems)) if result.problems else ''}"
            )
    per_function = ", ".join(
        f"{role.function}: {sum(role.calls.values())}" for role in roles.values() if role.calls
    )
    summary = (
        f"{recorded} recorded AWS calls ({per_function}) + Lambda's own uses of the roles: "
        f"{len(results)} distinct IAM requests evaluated, {len(failures)} denied or invalid"
    )
    return failures, summary


def main(argv: list[str]) -> int:
    log, state_file = Path(argv[0]), Path(argv[1])
    if shutil.which("node") is None:  # with node, a missing `make iam-sim` is an error
        print("SKIPPED the IAM check of the recorded AWS calls: node is not on PATH")
        return 0
    failures, summary = check(log, json.loads(state_file.read_text()))
    print(f"IAM check of the functions' AWS calls: {summary}")
    for failure in failures:
        print(f"  DENIED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
