"""CKV_AGC_1: an SQS queue read by a Lambda function keeps messages invisible >= 6x its timeout.

AWS refuses the event source mapping when the queue's visibility timeout is below the function's
timeout (moto does not); 6x is AWS's recommendation, so retries of a slow batch are not
delivered twice. The queue carries the verdict; a mapping fails only when the plan cannot tell
which queue or function it connects (unknown until apply and not traceable).
"""

from __future__ import annotations

from agc_check import FAILED, NOT_APPLICABLE, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan, feeds_of, sqs_feeds
from checkov.common.models.enums import CheckCategories

FACTOR = 6


class SqsVisibilityCoversConsumer(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_1",
            f"SQS queue read by a Lambda function: visibility_timeout_seconds >= {FACTOR}x the "
            "function's timeout (AWS refuses a mapping below 1x)",
            ("aws_sqs_queue", "aws_lambda_event_source_mapping"),
            CheckCategories.GENERAL_SECURITY,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        if instance.type == "aws_lambda_event_source_mapping":
            feed = next((f for f in sqs_feeds(plan) if f.mapping is instance), None)
            if feed is None:
                return NOT_APPLICABLE, []
            return (FAILED, feed.problems) if feed.problems else (PASSED, [])
        feeds = feeds_of(plan, instance)
        if not feeds:
            return NOT_APPLICABLE, []
        known, visibility = instance.get("visibility_timeout_seconds")
        if not known or not isinstance(visibility, int):
            return FAILED, ["visibility_timeout_seconds is unknown until apply"]
        problems = []
        for feed in feeds:
            for function in feed.functions:
                timeout = function.known("timeout")
                if not isinstance(timeout, int):
                    problems.append(f"{function.address}: timeout unknown until apply")
                elif visibility < FACTOR * timeout:
                    verdict = "AWS refuses the mapping" if visibility < timeout else "below"
                    problems.append(
                        f"visibility_timeout_seconds = {visibility} < {FACTOR} x {timeout} s = "
                        f"{FACTOR * timeout} s ({verdict}): timeout of {function.address}, "
                        f"read through {feed.mapping.address}"
                    )
        return (FAILED, problems) if problems else (PASSED, [])


check = SqsVisibilityCoversConsumer()
