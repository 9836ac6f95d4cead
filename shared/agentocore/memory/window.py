"""Window invariants: start with a user text turn; never split a toolUse from its toolResult."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentocore.types import ContentBlock, Message


@dataclass(frozen=True)
class StoredTurn:
    """One stored message with its turn number."""

    number: int
    role: str
    content: list[ContentBlock]
    token_estimate: int = 0

    @property
    def message(self) -> Message:
        return {"role": self.role, "content": self.content}


def _tool_use_ids(content: Sequence[ContentBlock]) -> list[str]:
    return [b["toolUse"]["toolUseId"] for b in content if "toolUse" in b]


def _tool_result_ids(content: Sequence[ContentBlock]) -> set[str]:
    return {b["toolResult"]["toolUseId"] for b in content if "toolResult" in b}


def is_user_text(turn: StoredTurn | Message) -> bool:
    """A user message that starts an exchange: text, no toolResult blocks."""
    role, content = (
        (turn.role, turn.content)
        if isinstance(turn, StoredTurn)
        else (turn["role"], turn["content"])
    )
    return (
        role == "user"
        and any("text" in b for b in content)
        and not any("toolResult" in b for b in content)
    )


def ends_with_tool_results(messages: Sequence[Message]) -> bool:
    """True when the last message is a user message carrying toolResult blocks (a deferred run
    waiting for its continuation)."""
    if not messages:
        return False
    last = messages[-1]
    return last["role"] == "user" and any("toolResult" in b for b in last["content"])


_REMOVED = {"text": "[tool call without result removed]"}


def _own_blocks(role: str, content: Sequence[ContentBlock]) -> list[ContentBlock]:
    """``content`` without blocks of the other role (toolResult from an assistant, toolUse from
    a user) and without a repeated toolUse/toolResult id."""
    wrong, kind = ("toolResult", "toolUse") if role == "assistant" else ("toolUse", "toolResult")
    seen: set[str] = set()
    out = []
    for b in content:
        if wrong in b:
            continue
        if kind in b:
            tid = b[kind]["toolUseId"]
            if tid in seen:
                continue
            seen.add(tid)
        out.append(b)
    return out


def _merge(turns: Sequence[StoredTurn]) -> list[StoredTurn]:
    """Adjacent messages of one role as one (the later turn number, summed estimates)."""
    out: list[StoredTurn] = []
    for t in turns:
        if out and out[-1].role == t.role:
            last = out[-1]
            t = StoredTurn(
                t.number, t.role, last.content + t.content, last.token_estimate + t.token_estimate
            )
            out[-1] = t
        else:
            out.append(t)
    return out


def _with(turn: StoredTurn, content: list[ContentBlock]) -> StoredTurn:
    return StoredTurn(turn.number, turn.role, content, turn.token_estimate)


def _drop_tool_uses(turn: StoredTurn, keep: set[str]) -> StoredTurn:
    content = [b for b in turn.content if "toolUse" not in b or b["toolUse"]["toolUseId"] in keep]
    return _with(turn, content or [_REMOVED])


def repair(turns: Sequence[StoredTurn], *, open_turn: bool = False) -> list[StoredTurn]:
    """A valid Converse window from chronological turns (gaps allowed: expired or windowed).

    Starts at the first user text turn (empty when there is none); keeps only user/assistant
    messages, their own kinds of tool blocks, each id once; merges adjacent messages of one
    role; keeps a toolUse only when the next message answers it and a toolResult only when the
    message before asked for it (an assistant left without content says so in a text); drops a
    trailing user turn (it has no reply) unless ``open_turn`` and it carries toolResults (a
    deferred run's continuation loads it). The result alternates user/assistant, starts with a
    user text turn and pairs every toolUse with its toolResult in the next message.
    """
    start = next((i for i, t in enumerate(turns) if is_user_text(t)), len(turns))
    merged = _merge([t for t in turns[start:] if t.role in ("user", "assistant")])
    items = [_with(t, _own_blocks(t.role, t.content)) for t in merged]
    paired: list[StoredTurn] = []
    for i, turn in enumerate(items):
        if turn.role == "assistant":
            nxt = items[i + 1] if i + 1 < len(items) else None
            answered = _tool_result_ids(nxt.content) if nxt is not None else set()
            paired.append(_drop_tool_uses(turn, answered))
            continue
        asked = set(_tool_use_ids(items[i - 1].content)) if i else set()
        content = [
            b
            for b in turn.content
            if "toolResult" not in b or b["toolResult"]["toolUseId"] in asked
        ]
        if content:  # empty: only unanswerable results; the assistant before kept no toolUse
            paired.append(_with(turn, content))
    out = _merge(paired)
    continuation = open_turn and len(out) > 1 and ends_with_tool_results([out[-1].message])
    if out and out[-1].role == "user" and not continuation:
        out.pop()  # no reply yet; the toolUses it answered go with it
        if out:
            out[-1] = _drop_tool_uses(out[-1], set())
    return out


def is_valid(messages: Sequence[Message], *, open_turn: bool = False) -> bool:
    """Whether ``messages`` form a valid Converse history: empty, or a user text turn first,
    alternating roles, every toolUse answered by a toolResult in the next message and every
    toolResult answering a toolUse of the message before, ending with an assistant message
    (or, with ``open_turn``, with a user toolResult message)."""
    if not messages:
        return True
    if not is_user_text(messages[0]):
        return False
    for i, m in enumerate(messages):
        if m["role"] != ("user" if i % 2 == 0 else "assistant") or not m["content"]:
            return False
        uses = _tool_use_ids(m["content"])
        if len(uses) != len(set(uses)) or (m["role"] == "user" and uses):
            return False
        results = [b["toolResult"]["toolUseId"] for b in m["content"] if "toolResult" in b]
        if len(results) != len(set(results)) or (m["role"] == "assistant" and results):
            return False
        nxt = messages[i + 1]["content"] if i + 1 < len(messages) else []
        prev = messages[i - 1]["content"] if i else []
        if set(uses) != _tool_result_ids(nxt) and m["role"] == "assistant":
            return False
        if m["role"] == "user" and not set(results) <= set(_tool_use_ids(prev)):
            return False
    last = messages[-1]
    return last["role"] == "assistant" or (open_turn and ends_with_tool_results(messages))


def split_for_compaction(turns: Sequence[StoredTurn], keep: int) -> int:
    """Index where the kept tail starts: the latest user text turn leaving at least ``keep``
    turns in the tail, so the summarized head ends on a complete exchange. 0 = nothing to do."""
    for i in range(len(turns) - keep, 0, -1):
        if is_user_text(turns[i]):
            return i
    return 0


def messages(turns: Sequence[StoredTurn]) -> list[Message]:
    """The Converse messages of ``turns``."""
    return [t.message for t in turns]


def as_dict(turn: StoredTurn) -> dict[str, Any]:
    """A JSON-friendly view (API responses)."""
    return {"turn": turn.number, "role": turn.role, "content": turn.content}
