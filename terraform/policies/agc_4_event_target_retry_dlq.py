"""CKV_AGC_4: every EventBridge target has a retry_policy and a dead_letter_config (SQS).

Without them a failed delivery is retried with the defaults (24 h, 185 attempts) and then
dropped silently. Limits AWS enforces and moto does not: 0..185 retries, 60..86400 s event age.
"""

from __future__ import annotations

from agc_check import FAILED, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan
from checkov.common.models.enums import CheckCategories

RETRY_LIMITS = {
    "maximum_retry_attempts": (0, 185),
    "maximum_event_age_in_seconds": (60, 86400),
}


class EventTargetRetryAndDeadLetters(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_4",
            "EventBridge target: retry_policy and dead_letter_config (an SQS queue) are set",
            ("aws_cloudwatch_event_target",),
            CheckCategories.BACKUP_AND_RECOVERY,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        problems = []
        if not instance.known("retry_policy"):
            problems.append("no retry_policy block")
        else:
            for attribute, (low, high) in RETRY_LIMITS.items():
                known, value = instance.get("retry_policy", 0, attribute)
                if known and isinstance(value, int) and not low <= value <= high:
                    problems.append(f"retry_policy.{attribute} = {value}, allowed {low}..{high}")
        known, blocks = instance.get("dead_letter_config")
        if known and not blocks:
            problems.append("no dead_letter_config block")
        else:
            # unknown: set to a value known after apply (an unset arn would be a known null)
            known, arn = instance.get("dead_letter_config", 0, "arn")
            if known and not arn:
                problems.append("dead_letter_config.arn is not set")
            elif known and isinstance(arn, str) and ":sqs:" not in arn:
                problems.append(f"dead_letter_config.arn = {arn!r} is not an SQS queue")
        return (FAILED, problems) if problems else (PASSED, [])


check = EventTargetRetryAndDeadLetters()
