"""agent_executor: one Lambda handler for every trigger of the agent.

HTTP API (API Gateway v2; the conversation routes, the approvals' are approval_worker's), the
WebSocket API (live run events, ``sendMessage``: :mod:`agentocore.socket_api`), EventBridge
``AgentInvocationRequested`` and actions' progress (approval requested or decided, performed,
failed: told to the conversation's sockets), S3 ``ObjectCreated``, SNS and schedules. The handler
only parses, calls the core (``agentocore``) and shapes responses. HTTP runs get
``AGENTOCORE_SYNC_BUDGET_S`` (API Gateway answers 503 after 30 s); a longer one is deferred and
continued from ``AgentInvocationRequested(continuation=True)`` on this function.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from agentocore.agent import AgentResult
from agentocore.api import (
    AgentApi,
    ApiError,
    Identity,
    idempotency_scope,
    tool_call_reports,
    usage_report,
)
from agentocore.events import (
    ActionApprovalRequested,
    ActionApproved,
    ActionCompleted,
    ActionFailed,
    ActionRejected,
    AgentExecutionCompleted,
    AgentInvocationRequested,
    parse_event,
)
from agentocore.identity import IdentityError, principal
from agentocore.identity import user_id as valid_user_id
from agentocore.lambda_http import HttpApp
from agentocore.lambda_support import (
    Idempotent,
    Singleton,
    caller,
    http_app,
    json_response,
    record_run,
)
from agentocore.runtime import Runtime
from agentocore.session import TurnOutcome
from agentocore.socket_api import SocketApi, tell_action_progress
from agentocore.tracing import function_tracer
from agentocore.triggers import (
    Invocation,
    S3MessageReader,
    TriggerError,
    schedule_invocation,
    sns_invocations,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE = "agent_executor"
DEFAULT_SCHEDULE_MESSAGE = "Scheduled run: review open items and report."
logger = Logger(service=SERVICE)
tracer = function_tracer(SERVICE)
#: The conversation routes (the approvals' are approval_worker's); Powertools' event handler is
#: loaded on the first HTTP event.
app = HttpApp(lambda: http_app(logger))

#: Built on the first invocation (settings from the environment; the tools and action types of
#: the application named by AGENTOCORE_APP), then reused.
runtime = Singleton(Runtime)


@app.post("/conversations/<conversation_id>/messages")
def post_message(conversation_id: str) -> Response[str]:
    identity = caller(app)
    tracer.put_annotation("conversation_id", conversation_id)
    key = (app.current_event.headers or {}).get("idempotency-key")
    request_id = idempotency_scope(identity, key)
    if request_id is None:
        api = AgentApi(runtime(), on_run=_record)
        return json_response(*api.post_message(identity, conversation_id, app.current_event.body))
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    data = {
        "request_id": request_id,
        "sub": identity.sub,
        "conversation_id": conversation_id,
        "body": app.current_event.body,
    }
    try:
        first = post_once(data, app.lambda_context)
    except IdempotencyValidationError as exc:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request (conversation or body)",
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise ApiError(
            409, "idempotency_in_progress", "a request with this Idempotency-Key is still running"
        ) from exc
    return json_response(first["status"], first["body"])


def _post_with_key(data: dict[str, Any]) -> dict[str, Any]:
    api = AgentApi(runtime(), on_run=_record)
    status, body = api.post_message(
        Identity(data["sub"]), data["conversation_id"], data["body"], data["request_id"]
    )
    return {"status": status, "body": body}


#: POST with an Idempotency-Key: the same key from the same user within 24 h gets the first
#: response (no second model call); another conversation or body with it -> 422; a failed
#: request (4xx/5xx) is not remembered, so its retry runs again (same action ids).
post_once = Idempotent(
    _post_with_key,
    name=f"{SERVICE}-http",
    key_jmespath="request_id",
    payload_validation_jmespath="[conversation_id, body]",
    table_name=lambda: runtime().settings.table_name,
)


def _record(result: AgentResult, agent_id: str) -> None:
    record_run(result, agent_id=agent_id, tracer=tracer)


@app.get("/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return json_response(*AgentApi(runtime()).get_conversation(caller(app), conversation_id, query))


@app.get("/conversations/<conversation_id>/events")
def get_events(conversation_id: str) -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return json_response(*AgentApi(runtime()).get_events(caller(app), conversation_id, query))


@app.get("/users/me/conversations")
def list_conversations() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return json_response(*AgentApi(runtime()).list_conversations(caller(app), query))


def run(invocation: Invocation, *, invocation_id: str) -> dict[str, Any]:
    """One agent run for a non-HTTP trigger; publishes AgentExecutionCompleted."""
    rt = runtime()
    tracer.put_annotation("conversation_id", invocation.conversation_id)
    started = time.perf_counter()
    outcome = rt.runner(invocation.agent_id).send(
        invocation.conversation_id,
        invocation.message,
        user_id=invocation.user_id,
        agent_id=invocation.agent_id,
        metadata=invocation.metadata,
        request_id=invocation_id,  # a redelivered or re-run invocation mints the same actions
    )
    return _completed(outcome, invocation, invocation_id=invocation_id, started=started)


def _completed(
    outcome: TurnOutcome,
    invocation: Invocation,
    *,
    invocation_id: str,
    started: float,
    continuation: bool = False,
) -> dict[str, Any]:
    """Metrics and AgentExecutionCompleted for a finished run."""
    result = outcome.result
    if not outcome.replayed:  # a redelivery answered from its receipt: counted once
        _record(result, invocation.agent_id)
    completed = AgentExecutionCompleted(
        invocation_id=invocation_id,
        agent_id=invocation.agent_id,
        conversation_id=invocation.conversation_id,
        user_id=invocation.user_id,
        status=result.status,
        reply=result.final_text,
        stop_reason=result.stop_reason,
        iterations=result.iterations,
        turn=outcome.exchange_turn if continuation else outcome.first_turn,
        tool_calls=tool_call_reports(outcome),
        usage=usage_report(outcome),
        elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        error=result.error,
        continuation=continuation,
        budget=result.budget.budget if result.budget else None,
    )
    rt = runtime()
    rt.publisher.publish(completed)
    logger.info(
        "agent run finished",
        extra={
            "conversation_id": invocation.conversation_id,
            "status": result.status,
            "continuation": continuation,
        },
    )
    return completed.model_dump(mode="json")


def resume(detail: AgentInvocationRequested) -> dict[str, Any]:
    """The continuation of a deferred HTTP run: the rest of the loop, no new user message."""
    tracer.put_annotation("conversation_id", detail.conversation_id)
    started = time.perf_counter()
    invocation = Invocation(
        conversation_id=detail.conversation_id,
        message="",
        user_id=detail.user_id or "",
        agent_id=detail.agent_id,
        metadata={**detail.metadata, "priority": detail.priority},
    )
    outcome = (
        runtime()
        .runner(detail.agent_id)
        .resume(
            detail.conversation_id,
            detail.invocation_id,
            # the deferred request's caller; another user gets ConversationNotFound
            user_id=_event_user(detail.user_id, "") if detail.user_id else None,
            agent_id=detail.agent_id,
            metadata=invocation.metadata,
        )
    )
    if outcome is None:
        logger.info(
            "continuation not pending (finished or unknown); nothing to do",
            extra={"conversation_id": detail.conversation_id},
        )
        return {
            "invocation_id": detail.invocation_id,
            "conversation_id": detail.conversation_id,
            "status": "skipped",
        }
    return _completed(
        outcome, invocation, invocation_id=detail.invocation_id, started=started, continuation=True
    )


def _invoke_from_event(data: dict[str, Any]) -> dict[str, Any]:
    detail = parse_event(data)
    assert isinstance(detail, AgentInvocationRequested)
    if detail.continuation:
        return resume(detail)
    invocation = Invocation(
        conversation_id=detail.conversation_id,
        message=detail.user_message,
        user_id=_event_user(detail.user_id, str(data.get("source", "events"))),
        agent_id=detail.agent_id,
        metadata={**detail.metadata, "priority": detail.priority},
    )
    return run(invocation, invocation_id=detail.invocation_id)


def _event_user(claimed: str | None, source: str) -> str:
    """An invocation's user: the id it names (only the framework's own source reaches this
    function, and IAM limits who may publish it), validated; else the source's principal."""
    if not claimed:
        return principal("events", source)
    try:
        return valid_user_id(claimed)
    except IdentityError as exc:
        raise TriggerError(f"AgentInvocationRequested: {exc}") from exc


#: A redelivered AgentInvocationRequested returns the first run's result instead of running
#: the agent (and writing the turns) twice; a continuation also does nothing unless it is the
#: conversation's pending one.
invoke_once = Idempotent(
    _invoke_from_event,
    name=SERVICE,
    key_jmespath="detail.invocation_id",
    table_name=lambda: runtime().settings.table_name,
)


def _action_progress(data: dict[str, Any]) -> dict[str, Any]:
    return tell_action_progress(runtime(), parse_event(data))


#: A redelivered progress event is told once.
action_progress_once = Idempotent(
    _action_progress,
    name=f"{SERVICE}-progress",
    key_jmespath="id",
    table_name=lambda: runtime().settings.table_name,
)

#: The action events whose progress this function tells the conversation's sockets.
PROGRESS_TYPES = {
    m.DETAIL_TYPE
    for m in (
        ActionApprovalRequested,
        ActionApproved,
        ActionRejected,
        ActionCompleted,
        ActionFailed,
    )
}


def _event_kind(event: dict[str, Any]) -> str:
    context = event.get("requestContext") or {}
    if "http" in context:
        return "http"
    if "eventType" in context and "connectionId" in context:
        return "websocket"
    if "detail-type" in event:
        if event["detail-type"] == AgentInvocationRequested.DETAIL_TYPE:
            return "invocation"
        if event["detail-type"] in PROGRESS_TYPES:
            return "action_progress"
        if event["detail-type"] == "Scheduled Event":
            return "schedule"
        return "unsupported"
    if "schedule" in event:
        return "schedule"
    records = event.get("Records") or [{}]
    source = records[0].get("eventSource") or records[0].get("EventSource")
    return {"aws:s3": "s3", "aws:sns": "sns"}.get(str(source), "unsupported")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    kind = _event_kind(event)
    tracer.put_annotation("trigger", kind)
    if kind == "http":
        logger.set_correlation_id(event["requestContext"].get("requestId"))
        return app.resolve(event, context)
    if kind == "websocket":
        logger.set_correlation_id(event["requestContext"].get("requestId"))
        return SocketApi(runtime(), on_run=_record).handle(event)
    if kind == "invocation":
        logger.set_correlation_id(event.get("detail", {}).get("invocation_id"))
        return invoke_once(event, context)
    if kind == "action_progress":
        logger.set_correlation_id(event.get("id"))
        return action_progress_once(event, context)
    if kind == "schedule":
        logger.set_correlation_id(event.get("id"))
        trusted = runtime().settings.trusted_user_triggers
        invocation = schedule_invocation(event, DEFAULT_SCHEDULE_MESSAGE, trusted)
        return run(invocation, invocation_id=str(event.get("id") or context.aws_request_id))
    if kind in ("s3", "sns"):
        settings = runtime().settings
        trusted = settings.trusted_user_triggers
        if kind == "s3":
            reader = S3MessageReader(max_bytes=settings.max_message_bytes, trusted=trusted)
            invocations = reader.invocations(event)
        else:
            invocations = sns_invocations(event, trusted)
        results = [
            run(inv, invocation_id=f"{context.aws_request_id}-{i}")
            for i, inv in enumerate(invocations)
        ]
        return {"runs": results}
    raise TriggerError(f"agent_executor does not handle this event: {sorted(event)[:5]}")
