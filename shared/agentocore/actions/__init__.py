"""Actions: the types an application declares, their approval rules and handlers.

See :mod:`agentocore.actions.catalog` (declaring), :mod:`agentocore.actions.approval` (rules)
and :mod:`agentocore.actions.routing` (the EventBridge rules generated from the catalog).
"""

from agentocore.actions.approval import Approval
from agentocore.actions.catalog import (
    ACTION_TYPE,
    ActionCatalog,
    ActionContext,
    ActionDeclined,
    ActionError,
    ActionType,
    ApprovalRequired,
    UnknownActionType,
)

__all__ = [
    "ACTION_TYPE",
    "ActionCatalog",
    "ActionContext",
    "ActionDeclined",
    "ActionError",
    "ActionType",
    "Approval",
    "ApprovalRequired",
    "UnknownActionType",
]
