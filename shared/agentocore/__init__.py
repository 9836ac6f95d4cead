"""AgentoCore: autonomous AI agents on AWS serverless.

The core package of the shared Lambda layer. Nothing here builds an AWS client at import time:
clients are injected or built lazily on first use. The names below are imported on first access
(PEP 562), so a function that needs only part of the core (the DLQ handler, the outbox relay)
does not load the agent loop, the models and the memory at its cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentocore.lazy import lazy_exports

if TYPE_CHECKING:
    from agentocore.agent import Agent, AgentResult, ToolCallRecord
    from agentocore.budget import Budget, PricingTable, Spent, Usage
    from agentocore.config import Settings
    from agentocore.memory import (
        ConversationBusy,
        ConversationMemory,
        ConversationNotFound,
        TurnConflict,
    )
    from agentocore.memory.compaction import ModelSummarizer
    from agentocore.models import BedrockConverse, ScriptedModel, create_model, register_provider
    from agentocore.session import ConversationRunner, TurnOutcome
    from agentocore.tools import ToolContext, ToolError, ToolRegistry

__version__ = "0.1.0"

#: Public name -> the module it lives in.
_EXPORTS = {
    "Agent": "agentocore.agent",
    "AgentResult": "agentocore.agent",
    "ToolCallRecord": "agentocore.agent",
    "Budget": "agentocore.budget",
    "PricingTable": "agentocore.budget",
    "Spent": "agentocore.budget",
    "Usage": "agentocore.budget",
    "Settings": "agentocore.config",
    "ConversationBusy": "agentocore.memory",
    "ConversationMemory": "agentocore.memory",
    "ConversationNotFound": "agentocore.memory",
    "TurnConflict": "agentocore.memory",
    "ModelSummarizer": "agentocore.memory.compaction",
    "BedrockConverse": "agentocore.models",
    "ScriptedModel": "agentocore.models",
    "create_model": "agentocore.models",
    "register_provider": "agentocore.models",
    "ConversationRunner": "agentocore.session",
    "TurnOutcome": "agentocore.session",
    "ToolContext": "agentocore.tools",
    "ToolError": "agentocore.tools",
    "ToolRegistry": "agentocore.tools",
}

__all__ = [
    "Agent",
    "AgentResult",
    "BedrockConverse",
    "Budget",
    "ConversationBusy",
    "ConversationMemory",
    "ConversationNotFound",
    "ConversationRunner",
    "ModelSummarizer",
    "PricingTable",
    "ScriptedModel",
    "Settings",
    "Spent",
    "ToolCallRecord",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "TurnConflict",
    "TurnOutcome",
    "Usage",
    "__version__",
    "create_model",
    "register_provider",
]


__getattr__, __dir__ = lazy_exports("agentocore", globals(), _EXPORTS)
