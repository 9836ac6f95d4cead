"""What the driver saw: every answer, every write of conversation memory (with the META item
before and after it), every model response's usage, the events on the bus, dead letters, and
the violations found on the way."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agentocore.budget.usage import Usage
from agentocore.memory.store import META, ConversationMemory, conv_pk

USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


@dataclass(frozen=True)
class Violation:
    kind: str
    message: str
    seed: int
    step: str = ""
    #: what groups violations of one cause in the report (default: the kind)
    signature: str = ""

    @property
    def group(self) -> str:
        return self.signature or self.kind


@dataclass
class Answer:
    """One HTTP attempt: its status and JSON body, or the exception that escaped."""

    tag: str
    route: str
    status: int | None
    body: dict[str, Any] | None = None
    error: str | None = None

    @property
    def code(self) -> str | None:
        err = (self.body or {}).get("error")
        return str(err.get("code")) if isinstance(err, dict) else None


@dataclass
class Write:
    """One call of ``ConversationMemory.append`` / ``save_summary``."""

    conversation_id: str
    kind: str
    usage: Usage
    cost_usd: float
    committed: bool
    first_turn: int | None
    count: int
    error: str | None = None
    #: the handler invocation that wrote it (Ledger.invocation)
    invocation: int = 0


@dataclass
class Ledger:
    seed: int
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    invocations: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    pending_usage: list[Usage] = field(default_factory=list)
    lost_tokens: int = 0
    step: str = ""
    trace: list[str] = field(default_factory=list)
    #: handler invocations so far, and how those that raised failed (by invocation number)
    invocation: int = 0
    invocation_errors: dict[int, str] = field(default_factory=dict)

    def violation(self, kind: str, message: str, signature: str = "") -> None:
        self.violations.append(Violation(kind, message, self.seed, self.step, signature))
        self.log(f"VIOLATION {kind}: {message}")

    def log(self, line: str) -> None:
        """What happened, in order (printed with -v for a single conversation)."""
        self.trace.append(line)

    def answer(self, answer: Answer) -> None:
        self.answers.setdefault(answer.tag, []).append(answer)

    # -- usage --------------------------------------------------------------------------------

    def model_usage(self, usage: Usage) -> None:
        self.pending_usage.append(usage)

    def begin_invocation(self, function: str) -> None:
        """A new handler invocation: usage of model calls whose run was not saved is lost."""
        self.invocations[function] += 1
        self.invocation += 1
        self.lost_tokens += sum(u.total_tokens for u in self.pending_usage)
        self.pending_usage.clear()

    def on_write(self, write: Write, before: dict[str, Any], after: dict[str, Any]) -> None:
        write.invocation = self.invocation
        self.writes.append(write)
        if write.committed and write.error:
            self.outcomes[f"{write.kind} committed, caller saw {write.error.split(':')[0]}"] += 1
        delta = {f: _int(after, f) - _int(before, f) for f in USAGE_FIELDS}
        expected = write.usage.model_dump() if write.committed else dict.fromkeys(USAGE_FIELDS, 0)
        cost = _float(after, "cost_usd") - _float(before, "cost_usd")
        if abs(cost - (write.cost_usd if write.committed else 0.0)) > 1e-9:
            self.violation(
                "usage_totals",
                f"{write.kind} of {write.conversation_id} (committed={write.committed}) moved "
                f"META's cost by {cost:.10f}, expected {write.cost_usd:.10f}",
            )
        if delta != expected:
            self.violation(
                "usage_totals",
                f"{write.kind} of {write.conversation_id} (committed={write.committed}) moved "
                f"META's totals by {delta}, expected {expected}",
            )
        if not write.committed or write.usage.total_tokens == 0:
            return
        responses = sum(u.total_tokens for u in self.pending_usage)
        pending = _sum(self.pending_usage)
        self.pending_usage.clear()
        if pending != write.usage:
            self.violation(
                "usage_totals",
                f"{write.kind} of {write.conversation_id} saved usage {write.usage.model_dump()}"
                f" but the run's model responses used {pending.model_dump()} "
                f"({responses} tokens)",
            )


def _int(item: dict[str, Any], name: str) -> int:
    value = item.get(name, {}).get("N")
    return int(float(value)) if value is not None else 0


def _float(item: dict[str, Any], name: str) -> float:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else 0.0


def _sum(usages: list[Usage]) -> Usage:
    total = Usage()
    for u in usages:
        total = total + u
    return total


@contextmanager
def recording_writes(ledger: Ledger, read_meta: Callable[[str], dict[str, Any]]) -> Iterator[None]:
    """Record every append / save_summary with the META item before and after it (read with
    a client no fault touches); test-only patches of ConversationMemory, undone after."""
    original_append = ConversationMemory.append
    original_summary = ConversationMemory.save_summary

    def append(self: ConversationMemory, conversation_id: str, new_messages: Any, **kw: Any) -> int:
        before = read_meta(conversation_id)
        error = None
        try:
            return original_append(self, conversation_id, new_messages, **kw)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            after = read_meta(conversation_id)
            added = _int(after, "turn_count") - _int(before, "turn_count")
            committed = added == len(new_messages) and added > 0
            first = kw["expected_turn_count"] + 1 if committed else None
            ledger.on_write(
                Write(
                    conversation_id,
                    "append",
                    kw.get("usage") or Usage(),
                    float(kw.get("cost_usd") or 0.0),
                    committed,
                    first,
                    len(new_messages),
                    error,
                ),
                before,
                after,
            )

    def save_summary(
        self: ConversationMemory, conversation_id: str, summary: str, **kw: Any
    ) -> bool:
        before = read_meta(conversation_id)
        error = None
        try:
            return original_summary(self, conversation_id, summary, **kw)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            after = read_meta(conversation_id)
            committed = _int(after, "summary_upto") == kw["upto"] != _int(before, "summary_upto")
            ledger.on_write(
                Write(
                    conversation_id,
                    "summary",
                    kw.get("usage") or Usage(),
                    float(kw.get("cost_usd") or 0.0),
                    committed,
                    None,
                    0,
                    error,
                ),
                before,
                after,
            )

    ConversationMemory.append = append  # type: ignore[method-assign]
    ConversationMemory.save_summary = save_summary  # type: ignore[method-assign]
    try:
        yield
    finally:
        ConversationMemory.append = original_append  # type: ignore[method-assign]
        ConversationMemory.save_summary = original_summary  # type: ignore[method-assign]


def meta_reader(client: Any, table: str) -> Callable[[str], dict[str, Any]]:
    def read(conversation_id: str) -> dict[str, Any]:
        item = client.get_item(
            TableName=table,
            Key={"PK": {"S": conv_pk(conversation_id)}, "SK": {"S": META}},
            ConsistentRead=True,
        ).get("Item")
        return dict(item or {})

    return read


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
