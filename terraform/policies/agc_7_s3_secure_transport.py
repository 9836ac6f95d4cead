"""CKV_AGC_7: every S3 bucket has a bucket policy that denies requests without TLS.

The statement: ``Effect = Deny`` for every principal, ``s3:*`` (or ``*``), on the bucket's
objects (``.../*``, where the plan knows the resources), ``Bool aws:SecureTransport = false``.
"""

from __future__ import annotations

from typing import Any

from agc_check import FAILED, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan, as_list, condition_values, policy_statements
from checkov.common.models.enums import CheckCategories


class S3DeniesInsecureTransport(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_7",
            "S3 bucket: a bucket policy denies every request with aws:SecureTransport = false",
            ("aws_s3_bucket",),
            CheckCategories.NETWORKING,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        known, inline = instance.get("policy")  # the bucket's own (deprecated) policy argument
        configured = inline if known else plan.expression(instance, "policy") is not None
        policies = [(instance, "policy")] if configured else []
        for policy in plan.of_type("aws_s3_bucket_policy"):
            buckets, _ = plan.targets(policy, "aws_s3_bucket", "bucket")
            if any(b.address == instance.address for b in buckets):
                policies.append((policy, "policy"))
        if not policies:
            return FAILED, ["no aws_s3_bucket_policy for this bucket"]
        problems = []
        for owner, attribute in policies:
            statements, why = policy_statements(plan, owner, attribute)
            if statements is None:
                problems.append(f"{owner.address}: cannot read the policy: {why}")
            elif any(denies_insecure_transport(s) for s in statements):
                return PASSED, []
            else:
                problems.append(
                    f"{owner.address}: no Deny statement for all principals and s3:* with "
                    "Bool aws:SecureTransport = false on the bucket's objects"
                )
        return FAILED, problems


def denies_insecure_transport(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    everyone = principal == "*" or (
        isinstance(principal, dict)
        and any("*" in as_list(principal.get(kind)) for kind in ("AWS", "*"))
    )
    actions = [str(a) for a in as_list(statement.get("Action"))]
    values = condition_values(statement, "Bool", "aws:SecureTransport")
    resources = as_list(statement.get("Resource"))  # None: known only after apply
    objects = not resources or any(
        r is None or r == "*" or str(r).endswith("/*") for r in resources
    )
    return everyone and any(a in ("*", "s3:*") for a in actions) and values == ["false"] and objects


check = S3DeniesInsecureTransport()
