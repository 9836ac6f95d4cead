"""CKV_AGC_8: a function behind an HTTP API integration answers within its timeout.

API Gateway answers 503 when the integration has not answered in ``timeout_milliseconds``
(at most 30 s) while the function runs on; the client then retries a request whose effects
(refunds) are already under way. The function either cannot run longer (its timeout fits the
integration's) or hands over to an asynchronous continuation in time: ``AGENTOCORE_SYNC_BUDGET_S``
set, with a margin of ``MARGIN_S`` for the cold start and the save, below the integration
timeout. The emulator's API front keeps the same clock; moto's API Gateway has none.
"""

from __future__ import annotations

from agc_check import FAILED, NOT_APPLICABLE, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan
from checkov.common.models.enums import CheckCategories

BUDGET_VARIABLE = "AGENTOCORE_SYNC_BUDGET_S"
MARGIN_S = 2.0
DEFAULT_TIMEOUT_MS = 30000


class HttpFunctionAnswersInTime(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_8",
            "Lambda behind an HTTP API integration: timeout within the integration timeout, "
            f"or {BUDGET_VARIABLE} + {MARGIN_S:g} s below it",
            ("aws_apigatewayv2_integration",),
            CheckCategories.GENERAL_SECURITY,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        known, kind = instance.get("integration_type")
        if known and kind != "AWS_PROXY":
            return NOT_APPLICABLE, []
        known, timeout_ms = instance.get("timeout_milliseconds")
        if not known or timeout_ms is None:
            timeout_ms = DEFAULT_TIMEOUT_MS
        functions, why = plan.targets(instance, "aws_lambda_function", "integration_uri")
        if not functions:
            return FAILED, [f"the integration's function cannot be identified: {why}"]
        limit_s = timeout_ms / 1000
        problems = []
        for function in functions:
            timeout = function.known("timeout")
            if isinstance(timeout, int | float) and timeout <= limit_s:
                continue
            known, raw = function.get("environment", 0, "variables", BUDGET_VARIABLE)
            if not known:
                problems.append(f"{function.address}: {BUDGET_VARIABLE} is unknown until apply")
                continue
            try:
                budget = float(raw) if raw is not None else None
            except ValueError:
                budget = None
            if budget is None:
                problems.append(
                    f"{function.address}: timeout {timeout} s > the integration's {limit_s:g} s "
                    f"and no {BUDGET_VARIABLE} (API Gateway answers 503 while the run goes on)"
                )
            elif budget <= 0 or budget + MARGIN_S > limit_s:
                problems.append(
                    f"{function.address}: {BUDGET_VARIABLE} = {raw} does not end a synchronous "
                    f"run {MARGIN_S:g} s before the integration's {limit_s:g} s"
                )
        return (FAILED, problems) if problems else (PASSED, [])


check = HttpFunctionAnswersInTime()
