"""standard_worker: performs RefundRequested (amount <= threshold) and ActionApproved events.

Idempotent (Powertools, DynamoDB persistence): a redelivered event performs nothing twice.
Failures raise, so EventBridge/Lambda retry and, after the retries, the event is dead-lettered.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentocore.events import parse_event
from agentocore.lambda_support import ACTION_EVENT_KEY, Idempotent, Singleton
from agentocore.runtime import Runtime
from agentocore.workers.refunds import ActionWorker, RefundLedger

SERVICE = "standard_worker"
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)

runtime = Singleton(Runtime)


def _build_worker() -> ActionWorker:
    rt = runtime()
    s = rt.settings
    ledger = RefundLedger(s.table_name, fail_order_ids=s.payments_fail_order_ids)
    return ActionWorker(ledger, rt.approvals, rt.publisher, rt.policy)


worker = Singleton(_build_worker)


def _perform(event: dict[str, Any]) -> dict[str, Any]:
    detail = parse_event(event)  # unknown version / invalid fields raise: DLQ path
    tracer.put_annotation("action_type", detail.DETAIL_TYPE)
    tracer.put_annotation("action_id", str(event.get("detail", {}).get("action_id")))
    outcome = worker().handle(detail)
    logger.info("action handled", extra={"detail_type": detail.DETAIL_TYPE, "outcome": outcome})
    return outcome


perform_once = Idempotent(
    _perform,
    name=SERVICE,
    key_jmespath=ACTION_EVENT_KEY,
    table_name=lambda: runtime().settings.table_name,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(event.get("id"))
    return perform_once(event, context)
