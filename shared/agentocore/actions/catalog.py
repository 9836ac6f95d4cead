"""The action catalog: the action types an application declares, once each.

An action type is a name, a versioned Pydantic payload model, an approval rule (data, see
:mod:`agentocore.actions.approval`) and the handler that performs it::

    actions = ActionCatalog()

    @actions.action("CancelSubscription", payload=CancelInput, approval=Approval.always())
    def cancel(payload: CancelInput, ctx: ActionContext) -> dict[str, Any]:
        ...

Tools request declared types (``@tools.tool(emits="CancelSubscription")``); workers look the
type up here to enforce its rule and call its handler. Nothing in the core knows any type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agentocore.actions.approval import Approval
from agentocore.config import Settings
from agentocore.events.actions import ActionRequest
from agentocore.events.contracts import ActionRequested
from agentocore.validation import summary

ACTION_TYPE = re.compile(r"^[A-Z][A-Za-z0-9]{2,63}$")
#: A handler returns a JSON-able mapping or a model (the ActionCompleted ``result``).
Handler = Callable[[Any, "ActionContext"], Mapping[str, Any] | BaseModel | None]
H = TypeVar("H", bound=Callable[..., Any])


class ActionError(ValueError):
    """A request does not match the catalog (unknown type or version, invalid payload)."""


class UnknownActionType(ActionError):
    """No action type of this name is declared."""


class ApprovalRequired(PermissionError):
    """An action that needs an approval reached a worker without one."""


class ActionDeclined(Exception):
    """Raise from a handler for a permanent refusal: retrying cannot help. The action ends as
    ``ActionFailed`` with this message (other exceptions are retried, then dead-lettered)."""


@dataclass(frozen=True)
class ActionContext:
    """What a handler knows about the request it performs."""

    action_id: str
    action_type: str
    requested_by: str | None
    conversation_id: str | None
    agent_id: str | None
    approved_by: str | None
    settings: Settings


@dataclass(frozen=True)
class ActionType:
    """One declared action type."""

    name: str
    payload: type[BaseModel]
    approval: Approval
    handler: Handler
    version: int = 1
    description: str = ""
    summarize: Callable[[Any], str] | None = None

    def summary(self, payload: BaseModel) -> str:
        """One line for approvers and alerts (the declared ``summary=``, else the payload)."""
        if self.summarize is not None:
            return self.summarize(payload)[:300]
        return f"{self.name} {payload.model_dump_json()}"[:300]

    def validate(self, payload: Mapping[str, Any] | BaseModel) -> BaseModel:
        """The payload as this type's model; raises :class:`ActionError` with the problems."""
        if isinstance(payload, self.payload):
            return payload
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        try:
            return self.payload.model_validate(data)
        except ValidationError as exc:
            raise ActionError(
                f"invalid {self.name} payload: {summary(exc, root='(payload)')}"
            ) from exc

    def needs_approval(self, payload: BaseModel) -> bool:
        return self.approval.required(payload.model_dump(mode="json"))

    def request(
        self,
        payload: Mapping[str, Any] | BaseModel,
        *,
        action_id: str,
        requested_by: str | None,
        conversation_id: str | None = None,
        agent_id: str | None = None,
    ) -> ActionRequest:
        """A validated request of this type (raises :class:`ActionError`)."""
        validated = self.validate(payload)
        detail = ActionRequested(
            action_type=self.name,
            action_id=action_id,
            payload_version=self.version,
            payload=validated.model_dump(mode="json"),
            requested_by=requested_by,
            conversation_id=conversation_id,
            agent_id=agent_id,
        )
        return ActionRequest(
            type=self.name,
            action_id=action_id,
            detail=detail.model_dump(mode="json"),
            needs_approval=self.needs_approval(validated),
        )

    def accept(self, request: ActionRequested) -> BaseModel:
        """The payload of an incoming request, checked against this declaration (version and
        model); raises :class:`ActionError`."""
        if request.payload_version != self.version:
            raise ActionError(
                f"{self.name} payload version {request.payload_version} is not the declared "
                f"version {self.version}"
            )
        return self.validate(request.payload)


#: Partition-key prefixes of the framework's own items; an application's handlers never own them.
RESERVED_ITEM_PREFIXES = frozenset(
    {"CONV#", "OUTBOX#", "APPROVAL#", "APPROVALS#", "BUDGET#", "FAILURE#", "META#"}
)
ITEM_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]{1,30}#$")


class ActionCatalog:
    """Declared action types by name, and the item key prefixes their handlers own.

    ``items``: the partition-key prefixes (``"REFUND#"``) of the table items the handlers read
    and write; standard_worker's role may touch those (``dynamodb:LeadingKeys``) and no others
    of the table besides its own records. Terraform reads them from the catalog file."""

    def __init__(self, items: Iterable[str] = ()) -> None:
        self._types: dict[str, ActionType] = {}
        self._items: set[str] = set()
        for prefix in items:
            self.own_items(prefix)

    def own_items(self, prefix: str) -> None:
        """Declare a partition-key prefix the handlers own (``"REFUND#"``)."""
        if not ITEM_PREFIX.match(prefix):
            raise ValueError(f"item prefix {prefix!r} must match {ITEM_PREFIX.pattern}")
        if prefix in RESERVED_ITEM_PREFIXES:
            raise ValueError(f"item prefix {prefix!r} is the framework's own")
        self._items.add(prefix)

    @property
    def item_prefixes(self) -> list[str]:
        """The declared item prefixes, sorted."""
        return sorted(self._items)

    def action(
        self,
        name: str,
        *,
        payload: type[BaseModel],
        approval: Approval,
        version: int = 1,
        description: str | None = None,
        summary: Callable[[Any], str] | None = None,
    ) -> Callable[[H], H]:
        """Declare an action type performed by the decorated ``handler(payload, ctx)``.
        ``summary(payload)``: the line approvers see (default: the type and its payload)."""

        def register(handler: H) -> H:
            self.add(
                name,
                payload=payload,
                approval=approval,
                handler=handler,
                version=version,
                description=description or (handler.__doc__ or "").strip().split("\n")[0],
                summary=summary,
            )
            return handler

        return register

    def add(
        self,
        name: str,
        *,
        payload: type[BaseModel],
        approval: Approval,
        handler: Handler,
        version: int = 1,
        description: str = "",
        summary: Callable[[Any], str] | None = None,
    ) -> ActionType:
        """Declare an action type; raises ValueError for a bad name, a duplicate, or a rule
        that reads fields the payload model lacks."""
        if not ACTION_TYPE.match(name):
            raise ValueError(f"action type {name!r} must match {ACTION_TYPE.pattern}")
        if name in self._types:
            raise ValueError(f"action type {name!r} is already declared")
        if not (isinstance(payload, type) and issubclass(payload, BaseModel)):
            raise TypeError(f"action type {name!r}: payload must be a pydantic model class")
        if not 1 <= version <= 1000:
            raise ValueError(f"action type {name!r}: version must be 1..1000")
        approval.check_payload_model(payload)
        declared = ActionType(name, payload, approval, handler, version, description, summary)
        self._types[name] = declared
        return declared

    def include(self, other: ActionCatalog) -> None:
        """Declare every type of ``other`` here too (an app built on another app's types)."""
        for declared in other:
            if declared.name in self._types:
                raise ValueError(f"action type {declared.name!r} is already declared")
            self._types[declared.name] = declared
        self._items.update(other.item_prefixes)

    def get(self, name: str) -> ActionType:
        """The declared type; raises :class:`UnknownActionType`."""
        declared = self._types.get(name)
        if declared is None:
            known = ", ".join(self.names) or "none"
            raise UnknownActionType(f"action type {name!r} is not declared (declared: {known})")
        return declared

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[ActionType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    @property
    def names(self) -> list[str]:
        return sorted(self._types)
