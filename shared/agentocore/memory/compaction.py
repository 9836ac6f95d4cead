"""Compaction: older turns summarized by the model provider into a summary item."""

from __future__ import annotations

import json
from collections.abc import Sequence

from agentocore.budget.usage import Usage
from agentocore.models.base import ModelError, ModelProvider
from agentocore.models.retry import Backoff
from agentocore.types import Message

SUMMARY_SYSTEM = (
    "You compress conversations between a user and an AI assistant that uses tools. Write a "
    "concise summary that keeps every fact the assistant may need later: the user's goals and "
    "preferences, identifiers (order ids, amounts, dates), tool results, actions requested and "
    "their ids, decisions and open questions. Plain text, no preamble."
)
_MAX_BLOCK_CHARS = 2000


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_BLOCK_CHARS else text[:_MAX_BLOCK_CHARS] + " [...]"


def transcript(messages: Sequence[Message]) -> str:
    """A plain-text rendering of Converse messages (tool calls and results included)."""
    lines = []
    for m in messages:
        who = "User" if m["role"] == "user" else "Assistant"
        for b in m.get("content", []):
            if "text" in b:
                lines.append(f"{who}: {_clip(str(b['text']))}")
            elif "toolUse" in b:
                tu = b["toolUse"]
                args = _clip(json.dumps(tu.get("input")))
                lines.append(f"Assistant called tool {tu.get('name')} with {args}")
            elif "toolResult" in b:
                tr = b["toolResult"]
                body = " ".join(
                    str(c["text"]) if "text" in c else json.dumps(c.get("json", c), default=str)
                    for c in tr.get("content", [])
                )
                lines.append(f"Tool result ({tr.get('status', 'success')}): {_clip(body)}")
    return "\n".join(lines)


class ModelSummarizer:
    """Summarizes with the same model provider the agent uses (one Converse call)."""

    def __init__(
        self, model: ModelProvider, *, max_tokens: int = 1024, backoff: Backoff | None = None
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.backoff = backoff or Backoff()

    def summarize(self, previous: str | None, messages: Sequence[Message]) -> tuple[str, Usage]:
        prompt = ""
        if previous:
            prompt += f"Summary so far:\n{previous}\n\n"
        prompt += f"Conversation to add to the summary:\n{transcript(messages)}\n\n"
        prompt += "Write the updated summary."
        request = {
            "system": [{"text": SUMMARY_SYSTEM}],
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": self.max_tokens, "temperature": 0.0},
        }
        response = self.backoff.call(lambda: self.model.converse(request))
        usage = Usage.from_converse(response.get("usage"))
        stop = response.get("stopReason")
        content = (response.get("output", {}).get("message") or {}).get("content") or []
        text = "".join(b.get("text", "") for b in content).strip()
        if stop not in ("end_turn", "max_tokens", "stop_sequence") or not text:
            raise ModelError(f"summarization failed (stopReason={stop!r})")
        return text, usage
