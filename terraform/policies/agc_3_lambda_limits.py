"""CKV_AGC_3: Lambda timeout 1..900 s and memory_size 128..10240 MB (AWS's limits; moto's are
looser)."""

from __future__ import annotations

from agc_check import FAILED, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan
from checkov.common.models.enums import CheckCategories

LIMITS = {"timeout": (1, 900, "s"), "memory_size": (128, 10240, "MB")}


class LambdaWithinLimits(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_3",
            "Lambda function: timeout within 1..900 s and memory_size within 128..10240 MB",
            ("aws_lambda_function",),
            CheckCategories.GENERAL_SECURITY,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        problems = []
        for attribute, (low, high, unit) in LIMITS.items():
            known, value = instance.get(attribute)
            if not known or not isinstance(value, int):
                problems.append(f"{attribute} is unknown until apply")
            elif not low <= value <= high:
                problems.append(f"{attribute} = {value} {unit}, allowed {low}..{high} {unit}")
        return (FAILED, problems) if problems else (PASSED, [])


check = LambdaWithinLimits()
