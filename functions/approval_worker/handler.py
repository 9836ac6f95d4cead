"""approval_worker: an ActionRequested whose type's rule needs a human becomes a pending
approval, an ActionApprovalRequested event and an SNS notice to the approvers' topic; the HTTP
API's approvals routes (``GET /approvals``, ``POST /approvals/{id}``) list and decide them.

Approvals live in this function's role only: agent_executor, where model output and tool
results land, can neither write an approval record nor publish a decision."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from agentocore.approvals_api import ApprovalsApi
from agentocore.events import ActionRequested, EventContractError, parse_event
from agentocore.lambda_http import HttpApp
from agentocore.lambda_support import (
    ACTION_EVENT_KEY,
    ACTION_EVENT_PAYLOAD,
    Idempotent,
    Singleton,
    caller,
    http_app,
    json_response,
)
from agentocore.runtime import Runtime
from agentocore.tracing import function_tracer
from agentocore.workers.approval_requests import ApprovalRequester
from agentocore.workers.notify import SnsNotifier

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE = "approval_worker"
logger = Logger(service=SERVICE)
tracer = function_tracer(SERVICE)

runtime = Singleton(Runtime)
#: The approvals routes; Powertools' event handler is loaded on the first HTTP event.
app = HttpApp(lambda: http_app(logger))


@app.get("/approvals")
def list_approvals() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return json_response(*ApprovalsApi(runtime()).list_approvals(caller(app), query))


@app.post("/approvals/<approval_id>")
def decide(approval_id: str) -> Response[str]:
    body = app.current_event.body
    return json_response(*ApprovalsApi(runtime()).decide(caller(app), approval_id, body))


def _build_requester() -> ApprovalRequester:
    rt = runtime()
    if not rt.settings.approvals_topic_arn:
        raise RuntimeError("AGENTOCORE_APPROVALS_TOPIC_ARN is not set")
    notifier = SnsNotifier(rt.settings.approvals_topic_arn)
    return ApprovalRequester(rt.catalog, rt.approvals, notifier, rt.publisher, rt.provenance)


requester = Singleton(_build_requester)


def _request_approval(event: dict[str, Any]) -> dict[str, Any]:
    detail = parse_event(event)
    if not isinstance(detail, ActionRequested):
        raise EventContractError(f"approval_worker does not handle {detail.DETAIL_TYPE}")
    tracer.put_annotation("action_type", detail.action_type)
    tracer.put_annotation("action_id", detail.action_id)
    outcome = requester().handle(detail)
    logger.info("approval requested", extra={"approval": outcome})
    return outcome


request_once = Idempotent(
    _request_approval,
    name=SERVICE,
    key_jmespath=ACTION_EVENT_KEY,
    payload_validation_jmespath=ACTION_EVENT_PAYLOAD,
    table_name=lambda: runtime().settings.table_name,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "http" in (event.get("requestContext") or {}):
        logger.set_correlation_id(event["requestContext"].get("requestId"))
        tracer.put_annotation("trigger", "http")
        return app.resolve(event, context)
    logger.set_correlation_id(event.get("id"))
    return request_once(event, context)
