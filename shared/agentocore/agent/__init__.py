"""The ReAct loop over Bedrock Converse shapes.

Names are imported on first access (PEP 562): ``agentocore.agent.result`` alone (what the
functions' glue needs) does not load the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentocore.lazy import lazy_exports

if TYPE_CHECKING:
    from agentocore.agent.loop import Agent, Summarizer, text_of
    from agentocore.agent.result import AgentResult, Compaction, RunStatus, ToolCallRecord
    from agentocore.models.retry import Backoff

_EXPORTS = {
    "Agent": "agentocore.agent.loop",
    "Summarizer": "agentocore.agent.loop",
    "text_of": "agentocore.agent.loop",
    "AgentResult": "agentocore.agent.result",
    "Compaction": "agentocore.agent.result",
    "RunStatus": "agentocore.agent.result",
    "ToolCallRecord": "agentocore.agent.result",
    "Backoff": "agentocore.models.retry",
}

__all__ = [
    "Agent",
    "AgentResult",
    "Backoff",
    "Compaction",
    "RunStatus",
    "Summarizer",
    "ToolCallRecord",
    "text_of",
]


__getattr__, __dir__ = lazy_exports("agentocore.agent", globals(), _EXPORTS)
