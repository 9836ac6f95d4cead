"""What the IAM evaluation needs from ``terraform show -json``: the functions' roles and their
policies, and the resource policies (KMS key, queues, topics, bucket) of the stack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def managed(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every managed resource of the state (all modules)."""

    def walk(module: dict[str, Any]) -> list[dict[str, Any]]:
        found = [r for r in module.get("resources", []) if r["mode"] == "managed"]
        for child in module.get("child_modules", []):
            found += walk(child)
        return found

    return walk(state["values"]["root_module"])


@dataclass(frozen=True)
class FunctionRole:
    function: str  # the deployed function name
    role_arn: str
    policies: tuple[dict[str, Any], ...]  # inline policy documents


def function_roles(resources: list[dict[str, Any]]) -> dict[str, FunctionRole]:
    """Deployed function name -> its role and inline policies."""
    role_arns = {
        r["values"]["name"]: r["values"]["arn"] for r in resources if r["type"] == "aws_iam_role"
    }
    policies: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        if r["type"] == "aws_iam_role_policy":
            policies.setdefault(r["values"]["role"], []).append(json.loads(r["values"]["policy"]))
    roles = {}
    for r in resources:
        if r["type"] == "aws_lambda_function":
            name = r["values"]["function_name"]
            role_name = r["values"]["role"].rsplit("/", 1)[-1]
            roles[name] = FunctionRole(
                name, role_arns.get(role_name, r["values"]["role"]), tuple(policies[role_name])
            )
    return roles


def resource_policies(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resource ARN (a bucket's for its objects) -> its resource policy."""
    queue_arns = {
        r["values"]["url"]: r["values"]["arn"] for r in resources if r["type"] == "aws_sqs_queue"
    }
    found: dict[str, dict[str, Any]] = {}
    for r in resources:
        v = r["values"]
        if r["type"] == "aws_kms_key" and v.get("policy"):
            found[v["arn"]] = json.loads(v["policy"])
        elif r["type"] == "aws_sqs_queue_policy":
            found[queue_arns.get(v["queue_url"], v["queue_url"])] = json.loads(v["policy"])
        elif r["type"] == "aws_sns_topic" and v.get("policy"):
            found.setdefault(v["arn"], json.loads(v["policy"]))
        elif r["type"] == "aws_sns_topic_policy":
            found[v["arn"]] = json.loads(v["policy"])
        elif r["type"] == "aws_s3_bucket_policy":
            found[f"arn:aws:s3:::{v['bucket']}"] = json.loads(v["policy"])
        elif r["type"] == "aws_secretsmanager_secret_policy":
            found[v["secret_arn"]] = json.loads(v["policy"])
    return found


def policy_for(policies: dict[str, dict[str, Any]], resource: str) -> dict[str, Any] | None:
    """The resource policy governing ``resource`` (an S3 object: its bucket's), if any."""
    if resource.startswith("arn:aws:s3:::"):
        return policies.get(resource.split("/", 1)[0])
    return policies.get(resource)
