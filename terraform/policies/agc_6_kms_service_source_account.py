"""CKV_AGC_6: KMS key policy statements that allow AWS services carry ``aws:SourceAccount``.

A service principal (``events.amazonaws.com``...) acts for every AWS account; without a
``StringEquals aws:SourceAccount`` condition, another account's resource of that service can
use the key (confused deputy). The values must be the plan's account. CloudWatch Logs
(``logs.<region>.amazonaws.com``) documents its own scoping key instead, which is accepted for
that principal: ``ArnLike``/``ArnEquals`` ``kms:EncryptionContext:aws:logs:arn`` on this
account's log groups.
"""

from __future__ import annotations

from typing import Any

from agc_check import FAILED, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan, as_list, condition_values, policy_statements
from checkov.common.models.enums import CheckCategories

LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"


class KmsServiceGrantsScopedToAccount(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_6",
            "KMS key policy: statements allowing Service principals have a StringEquals "
            "aws:SourceAccount condition (this account)",
            ("aws_kms_key", "aws_kms_key_policy"),
            CheckCategories.ENCRYPTION,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        statements, why = policy_statements(plan, instance)
        if statements is None:
            return FAILED, [f"cannot read the key policy: {why}"]
        accounts = plan.accounts()
        problems = []
        for number, statement in enumerate(statements):
            problems += statement_problems(statement, number, accounts)
        return (FAILED, problems) if problems else (PASSED, [])


def statement_problems(statement: dict[str, Any], number: int, accounts: set[str]) -> list[str]:
    if statement.get("Effect", "Allow") != "Allow":
        return []
    principal = statement.get("Principal")
    services = (
        [str(s) for s in as_list(principal.get("Service"))] if isinstance(principal, dict) else []
    )
    if not services:
        return []
    label = f"statement {statement.get('Sid') or number}"
    source_accounts = condition_values(statement, "StringEquals", "aws:SourceAccount")
    if source_accounts is not None:
        if not source_accounts:
            return [f"{label}: aws:SourceAccount has no value"]
        foreign = sorted(set(source_accounts) - accounts) if accounts else []
        if foreign:
            return [f"{label}: aws:SourceAccount {foreign} is not this account {sorted(accounts)}"]
        return []
    unscoped = [s for s in services if not logs_scoped(statement, s, accounts)]
    if not unscoped:
        return []
    return [
        f"{label} allows {', '.join(sorted(unscoped))} without a StringEquals "
        "aws:SourceAccount condition"
    ]


def logs_scoped(statement: dict[str, Any], service: str, accounts: set[str]) -> bool:
    """CloudWatch Logs' documented alternative: the log-group ARN in the encryption context."""
    if not (service.startswith("logs.") and service.endswith(".amazonaws.com")):
        return False
    for operator in ("ArnLike", "ArnEquals"):
        values = condition_values(statement, operator, LOGS_CONTEXT_KEY)
        if values and all(
            any(f":{account}:" in v for account in accounts) if accounts else v.count(":") >= 5
            for v in values
        ):
            return True
    return False


check = KmsServiceGrantsScopedToAccount()
