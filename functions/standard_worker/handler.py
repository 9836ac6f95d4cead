"""standard_worker: performs ActionRequested events whose type's rule needs no approval, and
ActionApproved events, with the handlers of the application's action catalog.

Idempotent twice over (Powertools, DynamoDB persistence): per event (a redelivery publishes
nothing twice) and per action id around the handler (however an action arrives, its handler's
outcome is recorded once and replayed). Failures raise, so EventBridge/Lambda retry and, after
the retries, the event is dead-lettered (dlq_handler records it and alerts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from agentocore.events import parse_event
from agentocore.lambda_support import (
    ACTION_EVENT_KEY,
    ACTION_EVENT_PAYLOAD,
    Idempotent,
    Singleton,
)
from agentocore.runtime import Runtime
from agentocore.tracing import function_tracer
from agentocore.workers.perform import ActionWorker

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE = "standard_worker"
logger = Logger(service=SERVICE)
tracer = function_tracer(SERVICE)

runtime = Singleton(Runtime)

#: The handler's outcome per action id, whatever event carried it.
run_handler_once = Idempotent(
    lambda job: worker().run_handler(job),
    name=f"{SERVICE}-action",
    key_jmespath="action_id",
    payload_validation_jmespath="request.payload",
    table_name=lambda: runtime().settings.table_name,
)


def _build_worker() -> ActionWorker:
    rt = runtime()
    return ActionWorker(
        rt.catalog, rt.approvals, rt.publisher, rt.settings, rt.provenance, perform=run_handler_once
    )


worker = Singleton(_build_worker)


def _perform(event: dict[str, Any]) -> dict[str, Any]:
    detail = parse_event(event)  # unknown version / invalid fields raise: DLQ path
    action_type = event.get("detail", {}).get("action_type")
    tracer.put_annotation("action_type", str(action_type or detail.DETAIL_TYPE))
    tracer.put_annotation("action_id", str(event.get("detail", {}).get("action_id")))
    outcome = worker().handle(detail)
    logger.info("action handled", extra={"detail_type": detail.DETAIL_TYPE, "outcome": outcome})
    return outcome


perform_once = Idempotent(
    _perform,
    name=SERVICE,
    key_jmespath=ACTION_EVENT_KEY,
    payload_validation_jmespath=ACTION_EVENT_PAYLOAD,
    table_name=lambda: runtime().settings.table_name,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(event.get("id"))
    run_handler_once.bind(context)
    return perform_once(event, context)
