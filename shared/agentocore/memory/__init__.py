"""DynamoDB conversation memory: windowed reads, conflict-safe writes, compaction."""

from agentocore.memory.store import (
    Continuation,
    ConversationBusy,
    ConversationMemory,
    ConversationMeta,
    ConversationNotFound,
    TurnConflict,
    Window,
)
from agentocore.memory.window import StoredTurn

__all__ = [
    "Continuation",
    "ConversationBusy",
    "ConversationMemory",
    "ConversationMeta",
    "ConversationNotFound",
    "StoredTurn",
    "TurnConflict",
    "Window",
]
