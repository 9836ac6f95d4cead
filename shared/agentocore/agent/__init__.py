"""The ReAct loop over Bedrock Converse shapes."""

from agentocore.agent.loop import Agent, Summarizer, text_of
from agentocore.agent.result import AgentResult, Compaction, RunStatus, ToolCallRecord
from agentocore.models.retry import Backoff

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
