"""AgentoCore: autonomous AI agents on AWS serverless.

The core package of the shared Lambda layer. Nothing here builds an AWS client at import time:
clients are injected or built lazily on first use.
"""

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
