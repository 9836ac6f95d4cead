"""Events: action requests published by tools (and, later, the versioned event contracts)."""

from agentocore.events.actions import (
    ACTION_SOURCE,
    ActionPublishError,
    ActionRequest,
    ActionSink,
    CollectingActionSink,
    EventBridgeActionSink,
    action_id_for,
)

__all__ = [
    "ACTION_SOURCE",
    "ActionPublishError",
    "ActionRequest",
    "ActionSink",
    "CollectingActionSink",
    "EventBridgeActionSink",
    "action_id_for",
]
