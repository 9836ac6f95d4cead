"""The WebSocket API: live run events to browsers, and actions' progress as it happens.

API Gateway (WebSocket API, route selection ``$request.body.action``) sends each connection's
``$connect`` (after the Lambda authorizer checked its JWT), ``$disconnect`` and messages here.
Messages (JSON):

- ``{"action": "subscribe", "conversation_id": "c1", "after": 17}``: the caller's conversation
  (or one not created yet); answered ``{"type": "subscribed", ...}``, then every logged event
  with ``seq > after``, then live events as they are stored (:mod:`agentocore.stream.push`).
- ``{"action": "subscribe", "topic": "approvals"}``: approvers only; ``{"type": "approval"}``
  messages when an approval is created or decided.
- ``{"action": "unsubscribe", "conversation_id": "c1"}``.
- ``{"action": "sendMessage", "conversation_id": "c1", "message": "...", "request_id": "..."}``:
  a run, as ``POST /conversations/{id}/messages`` (same checks, budgets and deferral), watched
  live; then ``{"type": "reply", "status": 200|202, "body": ...}`` or ``{"type": "error"}``. The
  same ``request_id`` again (a client that reconnected) is the same request: no second run.

Errors go back to the connection as ``{"type": "error", "status", "error": {code, message}}``;
the route itself always answers 200 (API Gateway would only log anything else).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentocore.api import (
    CONVERSATION_ID,
    AgentApi,
    ApiError,
    Identity,
    idempotency_scope,
)
from agentocore.events import (
    ActionApprovalRequested,
    ActionApproved,
    ActionCompleted,
    ActionFailed,
    ActionRejected,
    EventDetail,
)
from agentocore.stream.push import MAX_SUBSCRIPTIONS, TooManySubscriptions
from agentocore.validation import summary

if TYPE_CHECKING:
    from agentocore.agent import AgentResult
    from agentocore.runtime import Runtime

log = logging.getLogger(__name__)
#: How many logged events a subscription sends before the live ones (more: the client reads
#: the rest over HTTP when it sees the gap).
BACKLOG_LIMIT = 1000


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subscribe(_Message):
    action: Literal["subscribe"]
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID.pattern)
    topic: Literal["approvals"] | None = None
    after: int = Field(0, ge=0, lt=10**12)

    @model_validator(mode="after")
    def _one_target(self) -> Subscribe:
        if (self.conversation_id is None) == (self.topic is None):
            raise ValueError("give conversation_id or topic")
        return self


class Unsubscribe(_Message):
    action: Literal["unsubscribe"]
    conversation_id: str = Field(pattern=CONVERSATION_ID.pattern)


class SendMessage(_Message):
    action: Literal["sendMessage"]
    conversation_id: str = Field(pattern=CONVERSATION_ID.pattern)
    message: str = Field(min_length=1)
    request_id: str | None = None
    agent_id: str = Field("default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    priority: Literal["low", "normal", "high"] = "normal"


MESSAGES: dict[str, type[_Message]] = {
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "sendMessage": SendMessage,
}


def socket_identity(request_context: Mapping[str, Any]) -> Identity:
    """The caller, from the Lambda authorizer's context (``sub``, ``groups``), which API
    Gateway adds to every message of the connection it authorized."""
    authorizer = request_context.get("authorizer") or {}
    claims = {"sub": authorizer.get("sub") or authorizer.get("principalId")}
    if authorizer.get("groups"):
        claims["groups"] = str(authorizer["groups"])
    return Identity.from_claims(claims)


class SocketApi:
    """One WebSocket API event -> its effect; answers go through the management API."""

    def __init__(
        self, runtime: Runtime, on_run: Callable[[AgentResult, str], None] | None = None
    ) -> None:
        self.runtime = runtime
        self.on_run = on_run

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        ctx = event.get("requestContext") or {}
        kind = ctx.get("eventType")
        connection_id = str(ctx.get("connectionId") or "")
        if not connection_id:
            return {"statusCode": 400, "body": "no connection id"}
        if kind == "DISCONNECT":
            self.runtime.connections.close(connection_id)
            return {"statusCode": 200}
        try:
            identity = socket_identity(ctx)
        except ApiError as exc:
            return {"statusCode": exc.status, "body": exc.message}
        if kind == "CONNECT":
            approver = self.runtime.settings.approver_group in identity.groups
            self.runtime.connections.open(connection_id, identity.sub, approver=approver)
            return {"statusCode": 200}
        request: _Message | None = None
        try:
            request = self.parse(event.get("body"))
            self.dispatch(connection_id, identity, request)
        except ApiError as exc:
            self.send(connection_id, self.error(exc, request))
        return {"statusCode": 200}

    @staticmethod
    def parse(body: Any) -> _Message:
        try:
            data = json.loads(body) if isinstance(body, str) else None
        except json.JSONDecodeError as exc:
            raise ApiError(400, "malformed_json", f"the message is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", "a message is a JSON object with an action")
        model = MESSAGES.get(str(data.get("action")))
        if model is None:
            raise ApiError(
                400, "unknown_action", f"action must be one of {', '.join(sorted(MESSAGES))}"
            )
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ApiError(400, "invalid_request", summary(exc)) from exc

    def dispatch(self, connection_id: str, identity: Identity, request: _Message) -> None:
        try:
            self._dispatch(connection_id, identity, request)
        except TooManySubscriptions as exc:
            raise ApiError(
                429,
                "too_many_subscriptions",
                f"a connection listens to at most {MAX_SUBSCRIPTIONS} conversations and topics; "
                "unsubscribe from some first",
            ) from exc

    def _dispatch(self, connection_id: str, identity: Identity, request: _Message) -> None:
        if isinstance(request, Subscribe):
            if request.topic is not None:
                self.subscribe_topic(connection_id, identity, request.topic)
            else:
                assert request.conversation_id is not None
                self.subscribe(connection_id, identity, request.conversation_id, request.after)
        elif isinstance(request, Unsubscribe):
            self.runtime.connections.unsubscribe(connection_id, request.conversation_id)
            self.send(
                connection_id,
                {"type": "unsubscribed", "conversation_id": request.conversation_id},
            )
        elif isinstance(request, SendMessage):
            self.send_message(connection_id, identity, request)

    def subscribe(
        self, connection_id: str, identity: Identity, conversation_id: str, after: int
    ) -> None:
        """Subscribe first, then send what was logged: whatever is stored after the read is
        pushed (nothing lost); what is both read and pushed the client drops by its seq."""
        rt = self.runtime
        meta = rt.memory.get_meta(conversation_id)
        if meta.exists and meta.user_id != identity.sub:
            raise ApiError(404, "not_found", f"conversation {conversation_id} not found")
        rt.connections.subscribe(connection_id, identity.sub, conversation_id)
        logged = rt.event_log.read(conversation_id, after=after, limit=BACKLOG_LIMIT)
        # before the first save, only the records the caller's own runs wrote
        backlog = [r for owner, r in logged if meta.exists or owner == identity.sub]
        self.send(
            connection_id,
            {
                "type": "subscribed",
                "conversation_id": conversation_id,
                "after": after,
                "backlog": len(backlog),
                "more": len(logged) == BACKLOG_LIMIT,
            },
        )
        for record in backlog:
            if not self.send(connection_id, {"conversation_id": conversation_id, **record}):
                return  # gone meanwhile

    def subscribe_topic(self, connection_id: str, identity: Identity, topic: str) -> None:
        if self.runtime.settings.approver_group not in identity.groups:
            raise ApiError(403, "forbidden", f"only approvers may listen to {topic}")
        self.runtime.connections.subscribe_topic(connection_id, identity.sub, topic)
        self.send(connection_id, {"type": "subscribed", "topic": topic})

    def send_message(self, connection_id: str, identity: Identity, request: SendMessage) -> None:
        request_id = idempotency_scope(identity, request.request_id)
        self.runtime.connections.subscribe(connection_id, identity.sub, request.conversation_id)
        body = json.dumps(
            {
                "message": request.message,
                "agent_id": request.agent_id,
                "priority": request.priority,
                "watch": True,
            }
        )
        api = AgentApi(self.runtime, on_run=self.on_run)
        try:
            status, answer = api.post_message(
                identity, request.conversation_id, body, request_id, live=True
            )
        except ApiError as exc:
            self.send(connection_id, self.error(exc, request))
            return
        self.send(
            connection_id,
            {
                "type": "reply",
                "conversation_id": request.conversation_id,
                "request_id": request.request_id,
                "status": status,
                "body": answer,
            },
        )

    def send(self, connection_id: str, message: dict[str, Any]) -> bool:
        try:
            return self.runtime.pusher.send(connection_id, message)
        except Exception:  # the caller's socket failing is not the run's failure
            log.warning("could not answer the connection", exc_info=True)
            return False

    @staticmethod
    def error(exc: ApiError, request: _Message | None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "status": exc.status, **exc.body()}
        for name in ("conversation_id", "request_id", "action"):
            value = getattr(request, name, None)
            if value is not None:
                out[name] = value
        return out


#: detail-type -> the status an action's timeline shows
ACTION_STATUS: dict[type[EventDetail], str] = {
    ActionApprovalRequested: "pending_approval",
    ActionApproved: "approved",
    ActionRejected: "rejected",
    ActionCompleted: "completed",
    ActionFailed: "failed",
}
APPROVAL_STATUS = {"pending_approval": "pending", "approved": "approved", "rejected": "rejected"}


def action_status_record(detail: EventDetail) -> dict[str, Any] | None:
    """The ``action_status`` event an action's progress adds to its conversation's log."""
    status = ACTION_STATUS.get(type(detail))
    if status is None:
        return None
    record: dict[str, Any] = {
        "type": "action_status",
        "action_id": getattr(detail, "action_id", ""),
        "action_type": getattr(detail, "action_type", ""),
        "status": status,
    }
    for name in ("approval_id", "decided_by", "reason", "error", "summary"):
        value = getattr(detail, name, None)
        if value:
            record[name] = value
    return record


def tell_action_progress(runtime: Runtime, detail: EventDetail) -> dict[str, Any]:
    """An action's progress (approval requested or decided, performed, failed): an
    ``action_status`` event in its conversation's log (pushed to the owner's sockets) and, for
    approvals, an ``approval`` message to the approvers listening."""
    record = action_status_record(detail)
    conversation_id = getattr(detail, "conversation_id", None)
    told: dict[str, Any] = {"status": record["status"] if record else None, "logged": False}
    if record is None:
        return told
    if conversation_id:
        meta = runtime.memory.get_meta(conversation_id)
        if meta.exists:  # actions come from saved turns: its owner is the log's
            runtime.event_log.append_now(conversation_id, meta.user_id, [record])
            told["logged"] = True
    approval = APPROVAL_STATUS.get(record["status"])
    if approval is not None and runtime.settings.pushes:
        runtime.pusher.push_topic(
            "approvals",
            {
                "type": "approval",
                "approval_id": getattr(detail, "approval_id", ""),
                "status": approval,
                "action_type": record["action_type"],
                "conversation_id": conversation_id,
                "decided_by": getattr(detail, "decided_by", None),
            },
        )
    return told
