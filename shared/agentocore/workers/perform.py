"""standard_worker's service: performs declared actions, each at most once per action id.

An ``ActionRequested`` is performed only if its type's approval rule says no approval is needed
(checked here again, whatever routed it); an ``ActionApproved`` only if a recorded approval of
that same action says ``approved`` and the action's digest, the approval's and the event's agree
(a tampered payload or a forged event performs nothing: it raises, so it is dead-lettered).
The handler runs through ``perform`` (the function wraps it in an idempotency record keyed by
the action id), so a redelivered or retried event, or the same action arriving by both paths,
returns the first outcome instead of acting again.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from agentocore.actions.catalog import (
    ActionCatalog,
    ActionContext,
    ActionDeclined,
    ActionType,
    ApprovalRequired,
)
from agentocore.approvals import ApprovalStore, action_digest
from agentocore.config import Settings
from agentocore.events.contracts import (
    ActionApproved,
    ActionCompleted,
    ActionFailed,
    ActionRequested,
    EventContractError,
    EventDetail,
)
from agentocore.events.publisher import EventPublisher
from agentocore.workers.provenance import ActionProvenance

log = logging.getLogger(__name__)
#: ``perform(job) -> outcome``: runs :meth:`ActionWorker.run_handler` (possibly memoized)
Perform = Callable[[dict[str, Any]], dict[str, Any]]


class ActionWorker:
    """Dispatches ``ActionRequested`` / ``ActionApproved`` to the catalog's handlers."""

    def __init__(
        self,
        catalog: ActionCatalog,
        approvals: ApprovalStore,
        publisher: EventPublisher,
        settings: Settings,
        provenance: ActionProvenance,
        *,
        perform: Perform | None = None,
    ) -> None:
        self.catalog = catalog
        self.approvals = approvals
        self.provenance = provenance
        self.publisher = publisher
        self.settings = settings
        self.perform = perform or self.run_handler

    def handle(self, event: EventDetail) -> dict[str, Any]:
        """Perform the action; returns what was published. Raises for events that must not be
        performed (unknown type or version, invalid payload, no approval) and for retryable
        failures: they go down the retry/DLQ path."""
        if isinstance(event, ActionRequested):
            self.provenance.check(event)  # only what a saved turn requested
            declared = self.catalog.get(event.action_type)
            payload = declared.accept(event)
            if declared.needs_approval(payload):
                raise ApprovalRequired(
                    f"{event.action_type} {event.action_id} needs an approval "
                    f"({declared.approval.describe()}); it is not performed without one"
                )
            return self._perform(event, approved_by=None)
        if isinstance(event, ActionApproved):
            approval = self.approvals.get(event.approval_id)  # none recorded: raises
            request = ActionRequested.model_validate(approval.action)
            digest = action_digest(approval.action)
            if (
                approval.status != "approved"
                or request.action_id != event.action_id
                or approval.action_type != request.action_type
                or not approval.digest
                or not hmac.compare_digest(approval.digest, digest)
                or not hmac.compare_digest(event.digest, digest)
            ):
                raise ApprovalRequired(
                    f"ActionApproved for {event.action_id} does not match a recorded approval "
                    f"(status {approval.status}; action id, type and payload digest must agree)"
                )
            self.catalog.get(request.action_type).accept(request)
            return self._perform(request, approved_by=approval.decided_by)
        raise EventContractError(f"standard_worker does not handle {event.DETAIL_TYPE}")

    def _perform(self, request: ActionRequested, *, approved_by: str | None) -> dict[str, Any]:
        job = {
            "action_id": request.action_id,
            "request": request.model_dump(mode="json"),
            "approved_by": approved_by,
        }
        outcome = self.perform(job)
        ids = {
            "action_id": request.action_id,
            "action_type": request.action_type,
            "conversation_id": request.conversation_id,
        }
        if "declined" in outcome:
            failed = ActionFailed(**ids, error=str(outcome["declined"]))
            self.publisher.publish(failed)
            return {"event": failed.DETAIL_TYPE, "error": failed.error}
        completed = ActionCompleted(**ids, result=outcome.get("result") or {})
        self.publisher.publish(completed)
        return {"event": completed.DETAIL_TYPE, "result": completed.result}

    def run_handler(self, job: dict[str, Any]) -> dict[str, Any]:
        """Call the type's handler once: ``{"result": {...}}`` or ``{"declined": reason}``.
        Other exceptions propagate (retry, then the DLQ)."""
        request = ActionRequested.model_validate(job["request"])
        declared: ActionType = self.catalog.get(request.action_type)
        payload = declared.accept(request)
        ctx = ActionContext(
            action_id=request.action_id,
            action_type=request.action_type,
            requested_by=request.requested_by,
            conversation_id=request.conversation_id,
            agent_id=request.agent_id,
            approved_by=job.get("approved_by"),
            settings=self.settings,
        )
        try:
            value = declared.handler(payload, ctx)
        except ActionDeclined as exc:
            log.info("action declined", extra={"action_id": request.action_id, "why": str(exc)})
            return {"declined": str(exc) or type(exc).__name__}
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        result = json.loads(json.dumps(dict(value or {}), default=str))  # JSON-able, recorded
        return {"result": result}
