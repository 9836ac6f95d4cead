"""CKV_AGC_5: an SQS queue read by a Lambda function redrives to another queue, or is terminal
and watched by a depth alarm.

Otherwise a message the function keeps failing on is retried until the retention period ends
and then lost, with nobody told. A terminal queue needs an ``aws_cloudwatch_metric_alarm`` on
``AWS/SQS`` ``ApproximateNumberOfMessagesVisible`` with ``QueueName`` = the queue.
"""

from __future__ import annotations

import json

from agc_check import FAILED, NOT_APPLICABLE, PASSED, Outcome, PlanCheck
from agc_plan import Instance, Plan, feeds_of
from checkov.common.models.enums import CheckCategories

DEPTH_METRIC = "ApproximateNumberOfMessagesVisible"
Path = tuple[str | int, ...]  # an attribute path in a plan instance


class SqsRedriveOrDepthAlarm(PlanCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            "CKV_AGC_5",
            "SQS queue read by a Lambda function: redrive_policy to another queue, or a "
            f"CloudWatch alarm on its {DEPTH_METRIC}",
            ("aws_sqs_queue",),
            CheckCategories.BACKUP_AND_RECOVERY,
        )

    def evaluate(self, plan: Plan, instance: Instance) -> Outcome:
        if not feeds_of(plan, instance):
            return NOT_APPLICABLE, []
        redrive, why = redrive_target(plan, instance)
        if redrive:
            return PASSED, []
        if depth_alarms(plan, instance):
            return PASSED, []
        reader = ", ".join(f.mapping.address for f in feeds_of(plan, instance))
        return FAILED, [
            f"read by {reader}: {why or 'no redrive_policy'}, and no "
            f"aws_cloudwatch_metric_alarm on {DEPTH_METRIC} for QueueName = "
            f"{instance.known('name') or '(unknown name)'}"
        ]


def redrive_target(plan: Plan, queue: Instance) -> tuple[str, str]:
    """The queue that ``queue`` redrives to (address or ARN), else ``("", why)``."""
    sources = [(queue, "redrive_policy")]
    for policy in plan.of_type("aws_sqs_queue_redrive_policy"):
        owners, _ = plan.targets(policy, "aws_sqs_queue", "queue_url")
        if any(o.address == queue.address for o in owners):
            sources.append((policy, "redrive_policy"))
    reasons = []
    for owner, attribute in sources:
        known, value = owner.get(attribute)
        if (known and not value) or (not known and plan.expression(owner, attribute) is None):
            continue  # not configured
        if known:
            try:
                target = json.loads(value).get("deadLetterTargetArn", "")
            except (ValueError, AttributeError):
                reasons.append(f"{owner.address}.{attribute} is not JSON")
                continue
            if not target:
                reasons.append(f"{owner.address}.{attribute} has no deadLetterTargetArn")
            elif any(q.address == queue.address for q in plan.by_identity("aws_sqs_queue", target)):
                reasons.append(f"{owner.address}.{attribute} redrives to the queue itself")
            else:
                return target, ""
            continue
        targets = [
            plan.instances[t]
            for t in plan.refs(owner, attribute).targets
            if plan.instances[t].type == "aws_sqs_queue" and t != queue.address
        ]
        if targets:
            return targets[0].address, ""
        reasons.append(
            f"{owner.address}.{attribute} is unknown until apply and names no other queue"
        )
    return "", "; ".join(reasons)


def depth_alarms(plan: Plan, queue: Instance) -> list[Instance]:
    """Alarms on the queue's visible-message count."""
    name = queue.known("name")
    found = []
    for alarm in plan.of_type("aws_cloudwatch_metric_alarm"):
        metrics: list[tuple[Instance, Path, Path, Path]] = [
            (alarm, ("metric_name",), ("namespace",), ("dimensions",))
        ]
        for index, query in enumerate(alarm.known("metric_query") or []):
            if query.get("metric"):
                base = ("metric_query", index, "metric", 0)
                metrics.append(
                    (alarm, (*base, "metric_name"), (*base, "namespace"), (*base, "dimensions"))
                )
        for _, metric, namespace, dimensions in metrics:
            if alarm.known(*metric) != DEPTH_METRIC or alarm.known(*namespace) != "AWS/SQS":
                continue
            known, queue_name = alarm.get(*dimensions, "QueueName")
            if known:
                same = bool(name) and queue_name == name
            else:
                same = queue.address in plan.refs(alarm, *dimensions).targets
            if same:
                found.append(alarm)
    return found


check = SqsRedriveOrDepthAlarm()
