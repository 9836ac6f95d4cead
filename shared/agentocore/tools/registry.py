"""Tool registry: Pydantic input/output models, generated ``toolSpec`` JSON Schema."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypedDict, TypeVar

from pydantic import BaseModel, ValidationError
from typing_extensions import Unpack

from agentocore.tools.examples import Example, append_examples

if typing.TYPE_CHECKING:
    from agentocore.actions.catalog import ActionCatalog

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
F = TypeVar("F", bound=Callable[..., Any])


class ToolOptions(TypedDict, total=False):
    """Options of :meth:`ToolRegistry.tool` and :meth:`ToolRegistry.add`."""

    name: str | None
    description: str | None
    input_model: type[BaseModel] | None
    output_model: type[BaseModel] | None
    timeout_s: float | None
    emits: str | None
    examples: Sequence[Example] | None


@dataclass(frozen=True)
class ToolContext:
    """Who and what a tool call runs for; tools use it for authorization and action events."""

    conversation_id: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    tool_use_id: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: The request this run serves (invocation id, idempotency key, or conversation + turn).
    request_id: str | None = None
    #: This call's identity: tool name + input (set by the executor; see ``call_key``).
    call: str = ""

    @property
    def action_id(self) -> str:
        """Deterministic id for an action requested by this tool call: the same request making
        the same call (name + input) gets the same id, whatever toolUseId the model gave it.
        Without a ``request_id`` (the loop used directly) it is conversation + toolUseId."""
        from agentocore.events.actions import action_id_for

        if self.request_id is None:  # no request scope: the model's call id is all there is
            return action_id_for(self.conversation_id, self.tool_use_id)
        return action_id_for(self.request_id, self.call or self.tool_use_id)


class ToolError(Exception):
    """Raise from a tool to send a clean error message back to the model."""


@dataclass(frozen=True)
class Tool:
    """A registered tool."""

    name: str
    description: str
    func: Callable[..., Any]
    input_model: type[BaseModel]
    output_model: type[BaseModel] | None = None
    timeout_s: float | None = None
    emits: str | None = None
    takes_context: bool = False

    @cached_property
    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the input model, as sent in ``toolSpec.inputSchema.json``."""
        schema = self.input_model.model_json_schema()
        schema.pop("title", None)
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        return schema

    @cached_property
    def spec(self) -> dict[str, Any]:
        """The Converse ``toolSpec`` entry."""
        return {
            "toolSpec": {
                "name": self.name,
                "description": self.description,
                "inputSchema": {"json": self.input_schema},
            }
        }


def _first_param_model(func: Callable[..., Any]) -> type[BaseModel] | None:
    try:
        hints = typing.get_type_hints(func)
    except NameError:  # a string annotation naming a class local to a function
        return None
    params = list(inspect.signature(func).parameters.values())
    if params:
        hint = hints.get(params[0].name)
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            return hint
    return None


class ToolRegistry:
    """Named tools with validated inputs; ``specs()`` gives the Converse tool entries.

    ``actions``: the application's action catalog; a tool may only ``emits=`` a type declared
    there (checked when the tool is registered, i.e. at import time)."""

    def __init__(self, actions: ActionCatalog | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        self.actions = actions

    def tool(self, func: F | None = None, /, **options: Unpack[ToolOptions]) -> Any:
        """Register ``func`` as a tool: ``@registry.tool`` or ``@registry.tool(**options)``.

        ``func(args)`` or ``func(args, ctx)``: ``args`` is an instance of ``input_model`` (taken
        from the first parameter's annotation when not given), ``ctx`` a :class:`ToolContext`.
        ``description`` defaults to the docstring. With ``emits="CancelSubscription"`` (a type of
        the registry's action catalog) the return value is that action's payload: the framework
        requests the action and tells the model it was requested
        (see :mod:`agentocore.tools.executor`). ``examples`` are
        ``(request, input)`` pairs, validated against ``input_model`` and appended to the
        description (see :mod:`agentocore.tools.examples`).
        """

        def register(f: F) -> F:
            self.add(f, **options)
            return f

        return register(func) if func is not None else register

    def add(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        input_model: type[BaseModel] | None = None,
        output_model: type[BaseModel] | None = None,
        timeout_s: float | None = None,
        emits: str | None = None,
        examples: Sequence[Example] | None = None,
    ) -> Tool:
        """Register a tool without the decorator syntax."""
        tool_name = name or func.__name__
        if not TOOL_NAME.match(tool_name):
            raise ValueError(f"tool name {tool_name!r} must match {TOOL_NAME.pattern}")
        if tool_name in self._tools:
            raise ValueError(f"tool {tool_name!r} is already registered")
        model = input_model or _first_param_model(func)
        if model is None:
            raise TypeError(f"tool {tool_name!r} needs input_model= or an annotated first param")
        doc = description or inspect.getdoc(func) or inspect.cleandoc(model.__doc__ or "")
        if not doc.strip():
            raise ValueError(f"tool {tool_name!r} needs a description (docstring or argument)")
        for request, tool_input in examples or ():
            try:
                model.model_validate(tool_input)
            except ValidationError as exc:
                raise ValueError(
                    f"tool {tool_name!r}: example {request!r} is invalid: {exc}"
                ) from exc
        if emits is not None:
            self._check_emits(tool_name, emits)
        takes_context = len(inspect.signature(func).parameters) >= 2
        tool = Tool(
            name=tool_name,
            description=append_examples(doc.strip(), examples or ()),
            func=func,
            input_model=model,
            output_model=output_model,
            timeout_s=timeout_s,
            emits=emits,
            takes_context=takes_context,
        )
        self._tools[tool_name] = tool
        return tool

    def _check_emits(self, tool_name: str, emits: str) -> None:
        if self.actions is None:
            raise ValueError(
                f"tool {tool_name!r} emits {emits!r}, but this registry has no action catalog: "
                "build it with ToolRegistry(actions=<your ActionCatalog>)"
            )
        if emits not in self.actions:
            declared = ", ".join(self.actions.names) or "none"
            raise ValueError(
                f"tool {tool_name!r} emits {emits!r}, which the action catalog does not declare "
                f"(declared: {declared}); declare it with @catalog.action({emits!r}, ...)"
            )

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def subset(self, names: list[str]) -> ToolRegistry:
        """A registry with only ``names`` (per-agent tool sets); unknown names raise KeyError."""
        sub = ToolRegistry(self.actions)
        for n in names:
            if n not in self._tools:
                raise KeyError(f"unknown tool {n!r}; registered: {', '.join(self.names)}")
            sub._tools[n] = self._tools[n]
        return sub

    def specs(self) -> list[dict[str, Any]]:
        """The ``toolSpec`` entries, in registration order."""
        return [t.spec for t in self._tools.values()]
