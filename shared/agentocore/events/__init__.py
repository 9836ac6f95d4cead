"""Events: versioned contracts, the EventBridge publisher, and action requests from tools."""

from agentocore.events.actions import (
    ACTION_SOURCE,
    ActionRequest,
    ActionSink,
    CollectingActionSink,
    EventBridgeActionSink,
    action_id_for,
)
from agentocore.events.contracts import (
    CONTRACTS,
    ActionApproved,
    ActionCompleted,
    ActionFailed,
    ActionRejected,
    AgentExecutionCompleted,
    AgentInvocationRequested,
    EventContractError,
    EventDetail,
    RefundRequested,
    ToolCallReport,
    UsageReport,
    parse_detail,
    parse_event,
)
from agentocore.events.publisher import EventPublisher, PublishError, put_events

__all__ = [
    "ACTION_SOURCE",
    "CONTRACTS",
    "ActionApproved",
    "ActionCompleted",
    "ActionFailed",
    "ActionRejected",
    "ActionRequest",
    "ActionSink",
    "AgentExecutionCompleted",
    "AgentInvocationRequested",
    "CollectingActionSink",
    "EventBridgeActionSink",
    "EventContractError",
    "EventDetail",
    "EventPublisher",
    "PublishError",
    "RefundRequested",
    "ToolCallReport",
    "UsageReport",
    "action_id_for",
    "parse_detail",
    "parse_event",
    "put_events",
]
