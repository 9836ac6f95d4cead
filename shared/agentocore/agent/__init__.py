"""The ReAct loop over Bedrock Converse shapes.

Names are imported on first access (PEP 562): ``agentocore.agent.result`` alone (what the
functions' glue needs) does not load the loop.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agentocore.agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
