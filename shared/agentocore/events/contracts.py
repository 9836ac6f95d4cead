"""Versioned event contracts: every EventBridge detail AgentoCore emits or consumes.

Producers publish ``Model(...)`` with :class:`~agentocore.events.publisher.EventPublisher`;
consumers call :func:`parse_event` / :func:`parse_detail`, which reject unknown detail types,
a source other than the contract's, unknown versions and invalid fields with
:class:`EventContractError` (raised so that the event goes down the retry/DLQ path with a clear
message, never dropped), whatever they are handed. Numbers are finite (JSON has no NaN or
infinity: a detail holding one would be published altered), in every field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentocore.validation import summary

CONVERSATION_ID = r"^[A-Za-z0-9_-]{1,64}$"
SUPPORTED_VERSION = 1


class EventContractError(ValueError):
    """An event does not match a contract this consumer understands."""


class EventDetail(BaseModel):
    """Base of all event details. ``version`` changes only on breaking changes; new optional
    fields are added within a version (consumers ignore fields they do not know)."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    SOURCE: ClassVar[str]
    DETAIL_TYPE: ClassVar[str]

    version: int = SUPPORTED_VERSION

    @model_validator(mode="after")
    def _json_numbers(self) -> EventDetail:
        """Free-form fields (``dict[str, Any]``) hold finite numbers only (walked, not
        recursed: any depth)."""
        pending: list[Any] = [v for v in self.__dict__.values() if isinstance(v, dict | list)]
        while pending:
            value = pending.pop()
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError("numbers must be finite (JSON has no NaN or infinity)")
            if isinstance(value, dict):
                pending.extend(value.values())
            elif isinstance(value, list | tuple):
                pending.extend(value)
        return self

    def to_detail(self) -> str:
        """The JSON ``Detail`` string for PutEvents."""
        return self.model_dump_json()


class AgentInvocationRequested(EventDetail):
    """Run the agent on a conversation asynchronously.

    ``continuation=True`` (added within version 1): continue the deferred run whose pending
    continuation on the conversation is ``invocation_id``; it has no user message. A normal
    invocation requires one (a consumer from before the field rejects a continuation for its
    empty message instead of running it as a new turn)."""

    SOURCE = "agentocore.agent"
    DETAIL_TYPE = "AgentInvocationRequested"

    invocation_id: str = Field(min_length=1, max_length=128)
    agent_id: str = Field("default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    conversation_id: str = Field(pattern=CONVERSATION_ID)
    user_message: str = ""
    user_id: str | None = None
    priority: Literal["low", "normal", "high"] = "normal"
    metadata: dict[str, str] = Field(default_factory=dict)
    continuation: bool = False

    @model_validator(mode="after")
    def _message_matches_kind(self) -> AgentInvocationRequested:
        if self.continuation and self.user_message:
            raise ValueError("a continuation has no user_message")
        if not self.continuation and not self.user_message:
            raise ValueError("user_message is required (it may be empty only for a continuation)")
        return self


class UsageReport(BaseModel):
    """Token usage and cost of a run, as reported to clients and in events."""

    model_config = ConfigDict(allow_inf_nan=False)

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0


class ToolCallReport(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    name: str
    status: str
    ms: float


class AgentExecutionCompleted(EventDetail):
    """A run finished (whatever its status)."""

    SOURCE = "agentocore.agent"
    DETAIL_TYPE = "AgentExecutionCompleted"

    invocation_id: str
    agent_id: str
    conversation_id: str
    user_id: str | None = None
    status: str
    reply: str
    stop_reason: str | None = None
    iterations: int
    turn: int | None = None
    tool_calls: list[ToolCallReport] = Field(default_factory=list)
    usage: UsageReport = Field(default_factory=UsageReport)
    elapsed_ms: float = Field(description="Measured wall-clock time of the run.")
    error: str | None = None
    continuation: bool = Field(
        False,
        description="The run continued a deferred one: usage, tool calls and iterations are "
        "this part's; turn is the exchange's user message.",
    )
    budget: str | None = Field(
        None,
        description="status budget_exceeded: which budget (conversation, user_daily, "
        "tenant_daily) stopped the run (added within version 1).",
    )


class ActionRequested(EventDetail):
    """A tool asked for an action of a declared type (see :mod:`agentocore.actions`).

    ``version`` is this envelope's contract version (as for every event); ``payload_version``
    is the action type's declared payload version. ``requested_by`` is the run's identity,
    stamped by the framework. EventBridge routes on ``action_type`` and the payload fields the
    type's approval rule tests; workers enforce the rule again."""

    SOURCE = "agentocore.actions"
    DETAIL_TYPE = "ActionRequested"

    action_type: str = Field(pattern=r"^[A-Z][A-Za-z0-9]{2,63}$")
    action_id: str = Field(min_length=1, max_length=128)
    payload_version: int = Field(1, ge=1)
    payload: dict[str, Any]
    requested_by: str | None = None
    conversation_id: str | None = None
    agent_id: str | None = None


class ActionApprovalRequested(EventDetail):
    """approval_worker created a pending approval for an action and notified the approvers."""

    SOURCE = "agentocore.approvals"
    DETAIL_TYPE = "ActionApprovalRequested"

    approval_id: str
    action_id: str
    action_type: str
    requested_by: str | None = None
    conversation_id: str | None = None
    summary: str = ""


class _Decision(EventDetail):
    SOURCE = "agentocore.approvals"

    approval_id: str
    action_id: str
    action_type: str
    action: dict[str, Any] = Field(description="The ActionRequested detail decided on.")
    decided_by: str
    reason: str | None = None
    conversation_id: str | None = None
    digest: str = Field(
        "", description="The approval's digest of the action (added within version 1)."
    )


class ActionApproved(_Decision):
    """A human approved an action; standard_worker performs it."""

    DETAIL_TYPE = "ActionApproved"


class ActionRejected(_Decision):
    """A human rejected an action; nothing is performed."""

    DETAIL_TYPE = "ActionRejected"


class _WorkerOutcome(EventDetail):
    SOURCE = "agentocore.workers"

    action_id: str
    action_type: str
    conversation_id: str | None = None


class ActionCompleted(_WorkerOutcome):
    """A worker performed an action."""

    DETAIL_TYPE = "ActionCompleted"

    result: dict[str, Any] = Field(default_factory=dict)


class ActionFailed(_WorkerOutcome):
    """A worker could not perform an action and will not retry it."""

    DETAIL_TYPE = "ActionFailed"

    error: str


CONTRACTS: dict[str, type[EventDetail]] = {
    model.DETAIL_TYPE: model
    for model in (
        AgentInvocationRequested,
        AgentExecutionCompleted,
        ActionRequested,
        ActionApprovalRequested,
        ActionApproved,
        ActionRejected,
        ActionCompleted,
        ActionFailed,
    )
}


def contract(detail_type: Any) -> type[EventDetail]:
    """The model of ``detail_type``; EventContractError for anything else."""
    model = CONTRACTS.get(detail_type) if isinstance(detail_type, str) else None
    if model is None:
        raise EventContractError(
            f"unknown detail-type {detail_type!r}; known: {', '.join(sorted(CONTRACTS))}"
        )
    return model


def parse_detail(detail_type: str, detail: Mapping[str, Any] | str) -> EventDetail:
    """Validate one event detail against its contract."""
    model = contract(detail_type)
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except (ValueError, RecursionError) as exc:
            raise EventContractError(f"{detail_type} detail is not JSON: {exc}") from exc
    if not isinstance(detail, Mapping):
        raise EventContractError(f"{detail_type} detail must be a JSON object")
    version = detail.get("version", SUPPORTED_VERSION)
    if isinstance(version, bool) or version != SUPPORTED_VERSION:
        raise EventContractError(
            f"{detail_type} version {version!r} is not supported (this consumer reads version "
            f"{SUPPORTED_VERSION})"
        )
    try:
        return model.model_validate(detail)
    except ValidationError as exc:
        problems = summary(exc, root="(detail)")
        raise EventContractError(f"invalid {detail_type} detail: {problems}") from exc


def parse_event(event: Mapping[str, Any]) -> EventDetail:
    """Validate an EventBridge event: its ``detail-type`` names a contract, its ``source`` is
    that contract's, its ``detail`` matches it."""
    if not isinstance(event, Mapping):
        raise EventContractError(f"not an EventBridge event: {type(event).__name__}")
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str):
        raise EventContractError(
            "not an EventBridge event: no detail-type"
            if detail_type is None
            else f"not an EventBridge event: detail-type is {type(detail_type).__name__}"
        )
    model = contract(detail_type)
    source = event.get("source")
    if source != model.SOURCE:
        raise EventContractError(
            f"{detail_type} events come from source {model.SOURCE!r}, not {source!r}"
        )
    return parse_detail(detail_type, event.get("detail", {}))
