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


def repair(turns: Sequence[StoredTurn], *, open_turn: bool = False) -> list[StoredTurn]:
    """A valid window from chronological turns.

    Drops leading turns until a user text turn; drops toolResult blocks without their toolUse
    in the message before, and toolUse blocks without a result in the message after; merges
    adjacent messages of one role; drops a trailing user turn (it has no reply) unless
    ``open_turn`` and it carries toolResults (a deferred run's continuation loads it).
    """
    start = next((i for i, t in enumerate(turns) if is_user_text(t)), len(turns))
    out: list[StoredTurn] = []
    items = list(turns[start:])
    for i, turn in enumerate(items):
        content = list(turn.content)
        if turn.role == "user":
            prev_ids = (
                set(_tool_use_ids(items[i - 1].content))
                if i and items[i - 1].role == "assistant"
                else set()
            )
            content = [
                b
                for b in content
                if "toolResult" not in b or b["toolResult"]["toolUseId"] in prev_ids
            ]
        else:
            nxt = items[i + 1] if i + 1 < len(items) else None
            answered = (
                _tool_result_ids(nxt.content) if nxt is not None and nxt.role == "user" else set()
            )
            content = [
                b for b in content if "toolUse" not in b or b["toolUse"]["toolUseId"] in answered
            ]
            if not content:
                content = [{"text": "[tool call without result removed]"}]
        if not content:
            continue
        if out and out[-1].role == turn.role:
            last = out[-1]
            out[-1] = StoredTurn(
                turn.number,
                turn.role,
                last.content + content,
                last.token_estimate + turn.token_estimate,
            )
        else:
            out.append(StoredTurn(turn.number, turn.role, content, turn.token_estimate))
    popped = False
    while out and out[-1].role == "user":
        if open_turn and ends_with_tool_results([out[-1].message]):
            break
        out.pop()
        popped = True
    if popped and out and _tool_use_ids(out[-1].content):
        # its results went with the dropped user turn (a run still waiting to be continued)
        last = out[-1]
        content = [b for b in last.content if "toolUse" not in b]
        out[-1] = StoredTurn(
            last.number,
            last.role,
            content or [{"text": "[tool call without result removed]"}],
            last.token_estimate,
        )
    return out


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
