"""CKV_AGC_2: API Gateway v2 integrations set timeout_milliseconds explicitly, within AWS's range.

HTTP APIs accept 50..30000 ms, WebSocket APIs 50..29000 ms; moto accepts any value. An
unset timeout is the service default: the configuration should say what it relies on.
"""

from __future__ import annotations

from agc_check import FAILED, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan
from checkov.common.models.enums import CheckCategories

MINIMUM_MS = 50
MAXIMUM_MS = {"HTTP": 30000, "WEBSOCKET": 29000}


class IntegrationTimeoutWithinLimit(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_2",
            "API Gateway v2 integration: timeout_milliseconds set explicitly, 50..30000 "
            "(HTTP API; 29000 for WebSocket)",
            ("aws_apigatewayv2_integration",),
            CheckCategories.GENERAL_SECURITY,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        if plan.expression(instance, "timeout_milliseconds") is None:
            return FAILED, ["timeout_milliseconds is not set (the service default applies)"]
        known, timeout = instance.get("timeout_milliseconds")
        if not known or not isinstance(timeout, int):
            return FAILED, ["timeout_milliseconds is unknown until apply"]
        apis, _ = plan.targets(instance, "aws_apigatewayv2_api", "api_id")
        protocol = apis[0].known("protocol_type") if len(apis) == 1 else None
        maximum = MAXIMUM_MS.get(protocol or "HTTP", MAXIMUM_MS["HTTP"])
        if not MINIMUM_MS <= timeout <= maximum:
            return FAILED, [
                f"timeout_milliseconds = {timeout}, allowed {MINIMUM_MS}..{maximum} for "
                f"{protocol or 'HTTP'} APIs"
            ]
        return PASSED, []


check = IntegrationTimeoutWithinLimit()
