"""What a run tells a watching client, in order: typed, JSON-ready, one ``type`` each.

``text`` deltas of the model's reply; ``text_replaced`` when a retried model call's text went a
different way than what was already sent (the client replaces the step's text); ``tool_use_start``
and ``tool_use_end`` (status, duration); ``action_requested`` (its id, type and whether an
approver must decide); ``usage`` after each model call; ``result`` once, last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class RunEvent:
    type: ClassVar[str] = "event"

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.__dict__}  # fields are plain values: no deep copy


@dataclass(frozen=True)
class TextDelta(RunEvent):
    type: ClassVar[str] = "text"
    step: int
    delta: str


@dataclass(frozen=True)
class TextReplaced(RunEvent):
    """The step's text so far is ``text`` (a retry went another way than what was sent)."""

    type: ClassVar[str] = "text_replaced"
    step: int
    text: str


@dataclass(frozen=True)
class ToolUseStart(RunEvent):
    type: ClassVar[str] = "tool_use_start"
    step: int
    tool_use_id: str
    name: str


@dataclass(frozen=True)
class ToolUseEnd(RunEvent):
    type: ClassVar[str] = "tool_use_end"
    step: int
    tool_use_id: str
    name: str
    status: str
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True)
class ActionRequested(RunEvent):
    type: ClassVar[str] = "action_requested"
    action_id: str
    action_type: str
    needs_approval: bool | None


@dataclass(frozen=True)
class UsageReport(RunEvent):
    type: ClassVar[str] = "usage"
    step: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class RunFinished(RunEvent):
    type: ClassVar[str] = "result"
    status: str
    text: str
    stop_reason: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    error: str | None = None


class EventSink(Protocol):
    """Where a run's events go (a WebSocket, the event log, a list in tests). ``emit`` must
    not raise: a watcher that went away never stops the run."""

    def emit(self, event: RunEvent) -> None: ...


class CollectingSink:
    """Keeps the events (tests, local runs)."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def emit(self, event: RunEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[RunEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class SafeSink:
    """Wraps a sink so that its failures are logged, never raised into the run."""

    def __init__(self, inner: EventSink, on_error: Callable[[BaseException], None]) -> None:
        self.inner = inner
        self.on_error = on_error

    def emit(self, event: RunEvent) -> None:
        try:
            self.inner.emit(event)
        except Exception as exc:  # a watcher's failure is not the run's
            self.on_error(exc)


@dataclass(frozen=True)
class LoggedEvent(RunEvent):
    """An event as the event log stored it: its record, ``seq`` included (what a live socket is
    sent, so that a client can resume after the last number it has)."""

    type: ClassVar[str] = "logged"
    record: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.record)
