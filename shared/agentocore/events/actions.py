"""Action requests: what a tool asks a worker to do, published as an event."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agentocore.aws import LazyClient
from agentocore.events.publisher import put_events

#: Namespace for deterministic action ids: the same tool call for the same request always
#: yields the same action id, so a re-run of the request cannot produce a second refund.
ACTION_NAMESPACE = uuid.UUID("6f1f6a52-2f38-4d59-9a2e-0d5b1b0a7c11")
ACTION_SOURCE = "agentocore.actions"
REQUEST_DETAIL_TYPE = "ActionRequested"


def call_key(name: str, tool_input: Any) -> str:
    """A tool call's identity, independent of the model's toolUseId (which a re-run changes):
    its name and its input as canonical JSON."""
    return f"{name}:" + json.dumps(tool_input, sort_keys=True, separators=(",", ":"), default=str)


def action_id_for(request_id: str | None, call: str) -> str:
    """Deterministic action id for one tool call (``call``: :func:`call_key`) of one request
    (an invocation id, an idempotency key, or conversation + turn)."""
    return str(uuid.uuid5(ACTION_NAMESPACE, f"{request_id or '-'}:{call}"))


class ActionRequest(BaseModel):
    """One requested action: ``type`` is its action type, ``detail`` the full
    ``ActionRequested`` event detail (payload, ids, requester)."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,127}$")
    action_id: str
    detail: dict[str, Any]
    #: Whether the type's approval rule asks an approver for this payload (None: not known
    #: here). Informational (run events): the workers decide from the event, never from this.
    needs_approval: bool | None = None

    def entry(self) -> dict[str, str]:
        """The PutEvents entry (without ``EventBusName``) that requests this action."""
        return {
            "Source": ACTION_SOURCE,
            "DetailType": REQUEST_DETAIL_TYPE,
            "Detail": json.dumps(self.detail, separators=(",", ":"), default=str),
        }


class ActionSink(Protocol):
    """Where action requests go (EventBridge in Lambda; a list in tests)."""

    def publish(self, actions: Sequence[ActionRequest]) -> None:
        """Publish all ``actions`` or raise."""
        ...


class CollectingActionSink:
    """Keeps published actions in memory (tests, local runs)."""

    def __init__(self) -> None:
        self.actions: list[ActionRequest] = []
        self._lock = threading.Lock()

    def publish(self, actions: Sequence[ActionRequest]) -> None:
        with self._lock:
            self.actions.extend(actions)


class EventBridgeActionSink:
    """Publishes action requests to an EventBridge bus with ``PutEvents`` (client built lazily)."""

    def __init__(self, event_bus_name: str, *, client: Any | None = None) -> None:
        self.event_bus_name = event_bus_name
        self._client = LazyClient("events", client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def publish(self, actions: Sequence[ActionRequest]) -> None:
        """PutEvents with detail-type = the action type; raises PublishError on rejection."""
        entries = [{**a.entry(), "EventBusName": self.event_bus_name} for a in actions]
        put_events(self.client, entries)
