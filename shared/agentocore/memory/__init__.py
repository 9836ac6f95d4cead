"""DynamoDB conversation memory: windowed reads, conflict-safe writes, compaction."""

from agentocore.memory.store import (
    ConversationMemory,
    ConversationMeta,
    ConversationNotFound,
    TurnConflict,
    Window,
)
from agentocore.memory.window import StoredTurn

__all__ = [
    "ConversationMemory",
    "ConversationMeta",
    "ConversationNotFound",
    "StoredTurn",
    "TurnConflict",
    "Window",
]
