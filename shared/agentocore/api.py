"""The HTTP API's behaviour, independent of the web framework: validation, identity, status
codes. ``functions/agent_executor`` maps the conversation routes onto :class:`AgentApi`; the
approvals' routes are :mod:`agentocore.approvals_api` (served by approval_worker)."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentocore.agent.result import AgentResult
from agentocore.budget.guard import Budget, BudgetStop, over_budget
from agentocore.budget.usage import Usage
from agentocore.events.contracts import AgentInvocationRequested, ToolCallReport, UsageReport
from agentocore.events.publisher import PublishError
from agentocore.identity import IdentityError
from agentocore.identity import user_id as valid_user_id
from agentocore.memory.store import (
    Continuation,
    ConversationBusy,
    ConversationNotFound,
    TurnConflict,
)
from agentocore.runtime import Runtime, UnknownAgent
from agentocore.session import TurnOutcome
from agentocore.validation import summary

log = logging.getLogger(__name__)
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
#: Namespace of invocation ids derived from an Idempotency-Key (async requests).
REQUEST_NAMESPACE = uuid.UUID("0b6c2f7e-6a0e-4f7b-9f55-1d1c9f4c3a21")


def idempotency_scope(identity: Identity, key: str | None) -> str | None:
    """The request identity of an ``Idempotency-Key`` header: the key is the caller's own (the
    same key from another user is another request). None without a header; 400 if malformed."""
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-128 printable ASCII characters without spaces",
        )
    return f"idem:{identity.sub}:{key}"


class ApiError(Exception):
    """An HTTP error with a JSON body ``{"error": {"code", "message"}}``."""

    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


@dataclass(frozen=True)
class Identity:
    """The caller, from the authorizer's JWT claims (never from the body)."""

    sub: str
    groups: frozenset[str] = frozenset()

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Identity:
        sub = (claims or {}).get("sub")
        if not sub:
            raise ApiError(401, "unauthorized", "no authenticated identity (JWT 'sub' claim)")
        try:
            valid_user_id(sub)  # the pattern every user id shares; no trigger principal
        except IdentityError:
            raise ApiError(
                401, "unauthorized", "the identity's 'sub' claim is not acceptable"
            ) from None
        raw = (claims or {}).get("cognito:groups") or (claims or {}).get("groups") or []
        if isinstance(raw, str):  # API Gateway flattens arrays to "[a b]" or "a,b"
            raw = re.split(r"[\s,]+", raw.strip("[]"))
        groups = frozenset(str(g) for g in raw if g)
        return cls(str(sub), groups)


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1)
    priority: Literal["low", "normal", "high"] = "normal"
    async_: bool = Field(False, alias="async")
    agent_id: str = Field("default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    #: Log this run's events as they happen (GET .../events while the POST runs); otherwise a
    #: synchronous run's events are logged only if it is deferred or fails (its answer
    #: carries the rest). Async runs are always logged.
    watch: bool = False


def parse_body(model: type[BaseModel], body: str | None) -> Any:
    if not body:
        raise ApiError(400, "bad_request", "a JSON body is required")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", summary(exc)) from exc


def _check_conversation_id(conversation_id: str) -> None:
    if not CONVERSATION_ID.match(conversation_id):
        raise ApiError(
            400, "invalid_conversation_id", "conversation_id must match ^[A-Za-z0-9_-]{1,64}$"
        )


def page_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_limit", f"limit must be an integer from 1 to {maximum}")
    return int(raw)


def encode_token(key: Mapping[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "invalid_token", "next_token is not valid") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_token", "next_token is not valid")
    return value


def usage_report(outcome: TurnOutcome) -> UsageReport:
    u = outcome.result.usage
    return UsageReport(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cost_usd=round(outcome.result.cost_usd, 8),
    )


def tool_call_reports(outcome: TurnOutcome) -> list[ToolCallReport]:
    return [
        ToolCallReport(name=c.name, status=c.status, ms=round(c.duration_ms, 2))
        for c in outcome.result.tool_calls
    ]


def turn_body(outcome: TurnOutcome) -> dict[str, Any]:
    """The 200 body of ``POST /conversations/{id}/messages``."""
    r = outcome.result
    return {
        "conversation_id": outcome.conversation_id,
        "turn": outcome.first_turn,
        "reply": r.final_text,
        "status": r.status,
        "stop_reason": r.stop_reason,
        "iterations": r.iterations,
        "tool_calls": [t.model_dump() for t in tool_call_reports(outcome)],
        "usage": usage_report(outcome).model_dump(),
        "actions": [
            {"action_id": a.action_id, "type": a.type, "status": "requested"} for a in r.actions
        ],
        **({"budget": r.budget.model_dump()} if r.budget is not None else {}),
    }


def budget_error(stop: BudgetStop) -> ApiError:
    """429 naming the exhausted budget and when it resets (null: the conversation's never)."""
    return ApiError(
        429,
        "budget_exceeded",
        stop.message or "budget exceeded",
        {"budget": stop.budget, "resets_at": stop.resets_at},
    )


def result_url(conversation_id: str, turn: int | None) -> str:
    """Where the turns of an exchange starting at ``turn`` are read."""
    return f"/conversations/{conversation_id}?after={max((turn or 1) - 1, 0)}"


def deferred_body(outcome: TurnOutcome, scheduled: bool) -> dict[str, Any]:
    """The 202 body of a synchronous run deferred to its continuation: what happened so far."""
    r = outcome.result
    assert outcome.running is not None
    return {
        "conversation_id": outcome.conversation_id,
        "invocation_id": outcome.running.invocation_id,
        "status": "running",
        "turn": outcome.first_turn,
        "result_url": result_url(outcome.conversation_id, outcome.first_turn),
        "scheduled": scheduled,
        "iterations": r.iterations,
        "tool_calls": [t.model_dump() for t in tool_call_reports(outcome)],
        "usage": usage_report(outcome).model_dump(),
        "actions": [
            {"action_id": a.action_id, "type": a.type, "status": "requested"} for a in r.actions
        ],
    }


def running_body(running: Continuation | None) -> dict[str, Any] | None:
    if running is None:
        return None
    return {"invocation_id": running.invocation_id, "since": running.since}


_PRIORITIES: dict[str, Literal["low", "normal", "high"]] = {p: p for p in ("low", "normal", "high")}


class AgentApi:
    """Every route of the HTTP API as a method returning ``(status, body)``.

    A synchronous run gets ``sync_budget_s``: a run that would exceed it is deferred after its
    tool results (202 with the continuation's invocation id; the continuation runs from
    ``AgentInvocationRequested(continuation=True)``). While a continuation is pending, new
    messages get 409 ``conversation_busy``; one pending longer than ``running_stale_s`` (its
    event lost, e.g. the publish failed) is published again by the next POST or GET on the
    conversation (same invocation id: the executor runs it at most once).
    """

    def __init__(
        self, runtime: Runtime, on_run: Callable[[AgentResult, str], None] | None = None
    ) -> None:
        self.runtime = runtime
        self.on_run = on_run

    def post_message(
        self,
        identity: Identity,
        conversation_id: str,
        body: str | None,
        request_id: str | None = None,
        *,
        live: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """``request_id``: the request's identity from its Idempotency-Key
        (:func:`idempotency_scope`); it scopes the ids of the actions the run requests, and an
        async request's invocation id."""
        _check_conversation_id(conversation_id)
        limit = self.runtime.settings.max_message_bytes
        if body is not None and len(body.encode()) > 4 * limit + 1024:
            raise ApiError(413, "payload_too_large", f"the body exceeds {4 * limit + 1024} bytes")
        request: MessageRequest = parse_body(MessageRequest, body)
        size = len(request.message.encode())
        if size > limit:
            raise ApiError(
                413, "message_too_large", f"the message is {size} bytes; the limit is {limit}"
            )
        try:
            runner = self.runtime.runner(request.agent_id)
        except UnknownAgent as exc:
            raise ApiError(400, "unknown_agent", str(exc)) from exc
        if request.async_:
            return self._enqueue(identity, conversation_id, request, request_id)
        budget_s = self.runtime.settings.sync_budget_s
        deadline = runner.agent.clock() + budget_s if budget_s > 0 else None
        try:
            outcome = runner.send(
                conversation_id,
                request.message,
                user_id=identity.sub,
                agent_id=request.agent_id,
                metadata={"priority": request.priority, "trigger": "http"},
                deadline=deadline,
                priority=request.priority,
                request_id=request_id,
                retry_failed=True,  # a 502 is not remembered: its retry is a new attempt
                # live: someone watches over a socket (small batches, pushed as stored)
                log_events="live" if live else "always" if request.watch else "if_deferred",
            )
        except ConversationNotFound as exc:
            raise ApiError(404, "not_found", f"conversation {conversation_id} not found") from exc
        except ConversationBusy as exc:
            raise self._busy(conversation_id, exc.running, identity.sub) from exc
        except TurnConflict as exc:
            raise ApiError(
                409, "turn_conflict", "another request on this conversation kept winning; retry"
            ) from exc
        result = outcome.result
        if self.on_run is not None and not outcome.replayed:  # a retry's run was counted
            self.on_run(result, request.agent_id)
        if outcome.running is not None:
            scheduled = self._publish_continuation(conversation_id, outcome.running, identity.sub)
            return 202, deferred_body(outcome, scheduled)
        if result.status == "budget_exceeded" and not outcome.saved:
            stop = result.budget or BudgetStop(budget="conversation", message=result.error or "")
            raise budget_error(stop)
        if result.status == "failed":
            log.error("agent run failed", extra={"error": result.error})
            raise ApiError(502, "model_failure", result.error or "the model call failed")
        return 200, turn_body(outcome)

    def _enqueue(
        self,
        identity: Identity,
        conversation_id: str,
        request: MessageRequest,
        request_id: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        memory = self.runtime.memory
        meta = memory.get_meta(conversation_id)
        if meta.exists and meta.user_id != identity.sub:
            raise ApiError(404, "not_found", f"conversation {conversation_id} not found")
        if meta.running is not None:
            raise self._busy(conversation_id, meta.running, identity.sub)
        s = self.runtime.settings
        reason = over_budget(Budget(s.budget_max_tokens, s.budget_max_usd), meta.spent, Usage(), 0)
        if reason:
            raise budget_error(BudgetStop(budget="conversation", message=reason))
        daily = self.runtime.daily_budgets.check(identity.sub)
        if daily is not None:
            raise budget_error(daily)
        # With an Idempotency-Key a retried request carries the same invocation id, which the
        # executor runs once.
        invocation_id = (
            str(uuid.uuid5(REQUEST_NAMESPACE, request_id)) if request_id else str(uuid.uuid4())
        )
        invocation = AgentInvocationRequested(
            invocation_id=invocation_id,
            agent_id=request.agent_id,
            conversation_id=conversation_id,
            user_message=request.message,
            user_id=identity.sub,
            priority=request.priority,
            metadata={"trigger": "http-async"},
        )
        try:
            self.runtime.publisher.publish(invocation)
        except PublishError as exc:
            raise ApiError(502, "publish_failed", str(exc)) from exc
        return 202, {"conversation_id": conversation_id, "invocation_id": invocation.invocation_id}

    def _publish_continuation(
        self, conversation_id: str, running: Continuation, user_id: str | None
    ) -> bool:
        """Publish the continuation of a deferred run (one retry); False when it could not be
        published: the continuation stays pending and is published again once stale."""
        event = AgentInvocationRequested(
            invocation_id=running.invocation_id,
            agent_id=running.agent_id,
            conversation_id=conversation_id,
            user_id=user_id,
            priority=_PRIORITIES.get(running.priority, "normal"),
            metadata={"trigger": "http-continuation"},
            continuation=True,
        )
        for attempt in (1, 2):
            try:
                self.runtime.publisher.publish(event)
                return True
            except PublishError as exc:
                log.warning(
                    "publishing the continuation failed",
                    extra={"attempt": attempt, "error": str(exc)},
                )
        log.error(
            "continuation not published; it is published again once stale",
            extra={"conversation_id": conversation_id, "invocation_id": running.invocation_id},
        )
        return False

    def _recover_if_stale(
        self, conversation_id: str, running: Continuation, user_id: str | None
    ) -> Continuation:
        """Publish a continuation pending for longer than ``running_stale_s`` again (its event
        was lost, or its run died for good); its clock restarts, and only one concurrent
        request does it. Returns the continuation as it now stands."""
        stale_s = self.runtime.settings.running_stale_s
        if running.age_s(time.time()) < stale_s:
            return running
        since = self.runtime.memory.reschedule_running(conversation_id, running)
        if since is None:  # another request rescheduled it, or it just finished
            return running
        log.warning(
            "stale continuation published again",
            extra={"conversation_id": conversation_id, "invocation_id": running.invocation_id},
        )
        self._publish_continuation(conversation_id, running, user_id)
        return replace(running, since=since)

    def _busy(self, conversation_id: str, running: Continuation, user_id: str | None) -> ApiError:
        running = self._recover_if_stale(conversation_id, running, user_id)
        return ApiError(
            409,
            "conversation_busy",
            f"the previous message on this conversation is still being answered (invocation "
            f"{running.invocation_id}); poll GET /conversations/{conversation_id} and send "
            "again when running_invocation is null",
            {"invocation_id": running.invocation_id, "since": running.since},
        )

    def get_conversation(
        self, identity: Identity, conversation_id: str, query: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        _check_conversation_id(conversation_id)
        limit = page_limit(query.get("limit"), 100, 500)
        after = query.get("after", "0")
        if not after.isdigit():
            raise ApiError(400, "invalid_after", "after must be a turn number")
        try:
            meta, turns, next_after = self.runtime.memory.history(
                conversation_id, user_id=identity.sub, limit=limit, after_turn=int(after)
            )
        except ConversationNotFound:
            meta = None
        if meta is None or not meta.exists:
            raise ApiError(404, "not_found", f"conversation {conversation_id} not found")
        running = meta.running
        if running is not None:
            running = self._recover_if_stale(conversation_id, running, identity.sub)
        u = meta.usage
        return 200, {
            "conversation_id": conversation_id,
            "agent_id": meta.agent_id,
            "created_at": meta.created_at,
            "updated_at": meta.updated_at,
            "turn_count": meta.turn_count,
            "summary": meta.summary,
            "running_invocation": running_body(running),
            "turns": [{"turn": t.number, "role": t.role, "content": t.content} for t in turns],
            "next_after": next_after,
            "usage": {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cache_read_tokens": u.cache_read_tokens,
                "cache_write_tokens": u.cache_write_tokens,
                "cost_usd": round(meta.cost_usd, 8),
            },
        }

    def get_events(
        self, identity: Identity, conversation_id: str, query: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """The conversation's logged run events after ``after`` (a sequence number), oldest
        first: what a client that cannot hold a socket polls, and what a reconnecting one
        missed. The caller must own the conversation (its META's owner, or, before its first
        save, the owner each record was written with)."""
        _check_conversation_id(conversation_id)
        limit = page_limit(query.get("limit"), 200, 1000)
        after = query.get("after", "0")
        if not after.isdigit() or len(after) > 12:
            raise ApiError(400, "invalid_after", "after must be an event sequence number")
        meta = self.runtime.memory.get_meta(conversation_id)
        if meta.exists and meta.user_id != identity.sub:
            raise ApiError(404, "not_found", f"conversation {conversation_id} not found")
        logged = self.runtime.event_log.read(conversation_id, after=int(after), limit=limit)
        if not meta.exists and (not logged or any(o != identity.sub for o, _ in logged)):
            raise ApiError(404, "not_found", f"conversation {conversation_id} not found")
        events = [record for _, record in logged]
        return 200, {
            "conversation_id": conversation_id,
            "events": events,
            "next_after": events[-1]["seq"] if events else int(after),
            "more": len(events) == limit,
        }

    def list_conversations(
        self, identity: Identity, query: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        limit = page_limit(query.get("limit"), 20, 100)
        start = decode_token(query.get("next_token"))
        if start is not None and start.get("user_id", {}).get("S") != identity.sub:
            raise ApiError(400, "invalid_token", "next_token is not valid")
        metas, last = self.runtime.memory.list_conversations(
            identity.sub, limit=limit, start_key=start
        )
        return 200, {
            "conversations": [
                {
                    "conversation_id": m.conversation_id,
                    "agent_id": m.agent_id,
                    "created_at": m.created_at,
                    "updated_at": m.updated_at,
                    "turn_count": m.turn_count,
                    "cost_usd": round(m.cost_usd, 8),
                }
                for m in metas
            ],
            "next_token": encode_token(last),
        }
