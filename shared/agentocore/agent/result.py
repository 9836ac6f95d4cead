"""The typed outcome of one agent run."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentocore.budget.guard import BudgetStop
from agentocore.budget.usage import Usage
from agentocore.events.actions import ActionRequest
from agentocore.tools.executor import ToolStatus
from agentocore.types import Message

RunStatus = Literal[
    "completed",  # end_turn / stop_sequence: final_text is the answer
    "truncated",  # max_tokens after the allowed continuations: final_text is partial
    "refused",  # guardrail_intervened / content_filtered: final_text is a safe refusal
    "max_iterations",  # the loop ran out of iterations without a final answer
    "budget_exceeded",  # a budget is used up: AgentResult.budget says which
    "failed",  # model error after retries, repeated malformed output, unknown stop reason
    "deferred",  # the deadline left no time for another model call: continue with Agent.resume
]


class ToolCallRecord(BaseModel):
    """One tool call of the run."""

    tool_use_id: str
    name: str
    status: ToolStatus
    duration_ms: float
    error: str | None = None


class Compaction(BaseModel):
    """History summarized during the run (the session persists it)."""

    summary: str
    covered_messages: int = Field(description="Leading history messages the summary replaces.")


class AgentResult(BaseModel):
    """Everything a caller needs about a run; never an exception for an expected outcome."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: RunStatus
    final_text: str
    stop_reason: str | None
    iterations: int
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    elapsed_ms: float = 0.0
    model_id: str = ""
    truncated: bool = False
    flagged: bool = False
    error: str | None = None
    messages: list[Message] = Field(
        default_factory=list,
        description="Messages this run added (user first, assistant last); empty when nothing "
        "happened worth storing (e.g. budget exhausted before the first model call). A deferred "
        "run's end with the user toolResult message; a resumed run's start with the assistant.",
    )
    actions: list[ActionRequest] = Field(default_factory=list)
    compaction: Compaction | None = None
    budget: BudgetStop | None = Field(
        None, description="status budget_exceeded: which budget, why, when it resets."
    )

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def receipt_json(self, max_bytes: int) -> str:
        """This result without its messages (they are the stored turns) as JSON under
        ``max_bytes``: what a retried request is answered with. Over it, the actions keep their
        ids and types only, then ``final_text`` is cut."""
        data = self.model_dump(mode="json", exclude={"messages", "compaction"})
        text = _compact_json(data)
        if len(text.encode()) <= max_bytes:
            return text
        data["actions"] = [
            {"type": a.type, "action_id": a.action_id, "detail": {}} for a in self.actions
        ]
        text = _compact_json(data)
        if len(text.encode()) <= max_bytes:
            return text
        full = data["final_text"]
        data["final_text"], data["truncated"] = "", True
        room = max_bytes - len(_compact_json(data).encode()) + 2  # "" is counted already
        # the longest prefix whose escaped form fits the room left
        lo, hi = 0, len(full)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(_compact_json(full[:mid])) <= room:
                lo = mid
            else:
                hi = mid - 1
        data["final_text"] = full[:lo]
        return _compact_json(data)

    @classmethod
    def from_receipt_json(cls, text: str) -> AgentResult:
        return cls.model_validate(json.loads(text))  # lone surrogates pydantic's parser refuses


def _compact_json(data: object) -> str:
    """ASCII JSON: any text (lone surrogates too) is storable as a DynamoDB string."""
    return json.dumps(data, separators=(",", ":"))
