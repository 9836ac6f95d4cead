"""Base of the CKV_AGC checks: each evaluates one resource instance of a Terraform plan JSON.

checkov's ``terraform_plan`` runner hands a check one resource at a time (``__address__`` and
the plan file in ``__file__``); the check reads the other resources it needs from the same plan
through :class:`agc_plan.Plan`. On HCL (``terraform`` framework) the checks report nothing:
there, values of modules with ``for_each`` are not resolved (see terraform/README.md).
A check that cannot evaluate a resource fails it (with the reason) rather than passing it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

from agc_plan import Instance, Plan
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

Outcome = tuple[CheckResult, list[str]]
PASSED: CheckResult = CheckResult.PASSED
FAILED: CheckResult = CheckResult.FAILED
NOT_APPLICABLE: CheckResult = CheckResult.UNKNOWN  # checkov reports no record for UNKNOWN


class PlanCheck(BaseResourceCheck):  # type: ignore[misc]
    """A check of one plan resource instance; ``details`` say why it failed."""

    def __init__(
        self, check_id: str, name: str, resources: Iterable[str], category: CheckCategories
    ) -> None:
        super().__init__(
            name=name, id=check_id, categories=(category,), supported_resources=tuple(resources)
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        address = conf.get("__address__")
        source = conf.get("__file__")
        source = source[0] if isinstance(source, list) and source else source
        plan = Plan.load(source) if isinstance(source, str) and source.endswith(".json") else None
        if plan is None or not isinstance(address, str) or address not in plan.instances:
            return NOT_APPLICABLE
        try:
            result, details = self.evaluate(plan, plan.instances[address])
        except Exception as exc:  # a policy bug must not pass a resource silently
            result, details = FAILED, [f"{self.id} could not evaluate {address}: {exc!r}"]
        self.details = details
        return result

    @abstractmethod
    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        """PASSED/FAILED/NOT_APPLICABLE and the reasons."""
