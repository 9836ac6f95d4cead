"""approval_worker's service: a request that needs a human becomes a pending approval, an
``ActionApprovalRequested`` event and an SNS notice to the approvers (each once per action)."""

from __future__ import annotations

import logging
from typing import Any

from agentocore.actions.catalog import ActionCatalog, ActionError
from agentocore.approvals import Approval, ApprovalStore, action_digest
from agentocore.events.contracts import ActionApprovalRequested, ActionRequested
from agentocore.events.publisher import EventPublisher
from agentocore.workers.notify import SnsNotifier
from agentocore.workers.provenance import ActionProvenance

log = logging.getLogger(__name__)


class ApprovalRequester:
    """Creates the approval (the approval id is the action id) and announces it once."""

    def __init__(
        self,
        catalog: ActionCatalog,
        approvals: ApprovalStore,
        notifier: SnsNotifier,
        publisher: EventPublisher,
        provenance: ActionProvenance,
    ) -> None:
        self.provenance = provenance
        self.catalog = catalog
        self.approvals = approvals
        self.notifier = notifier
        self.publisher = publisher

    def handle(self, request: ActionRequested) -> dict[str, Any]:
        """Raises for a request no saved turn made, an undeclared type, another version or an
        invalid payload (DLQ path): approvers only ever see what a turn really requested."""
        self.provenance.check(request)
        declared = self.catalog.get(request.action_type)
        payload = declared.accept(request)
        if not declared.needs_approval(payload):
            # Routed here although its rule needs no approval: be safe, still ask a human.
            log.warning(
                "approval requested that the rule does not need",
                extra={"action": request.action_id},
            )
        approval, created = self.approvals.create(
            request.action_id,
            action_type=request.action_type,
            action=request.model_dump(mode="json"),
            requested_by=request.requested_by,
            conversation_id=request.conversation_id,
            summary=declared.summary(payload),
        )
        if approval.digest != action_digest(request.model_dump(mode="json")):
            # the same action id with another payload: a forgery or a bug, never the same action
            raise ActionError(
                f"action {request.action_id} already has an approval for a different payload"
            )
        if approval.status == "pending" and not approval.notified:
            self._announce(approval)
        return {"approval_id": approval.approval_id, "created": created, "status": approval.status}

    def _announce(self, approval: Approval) -> None:
        self.publisher.publish(
            ActionApprovalRequested(
                approval_id=approval.approval_id,
                action_id=approval.approval_id,
                action_type=approval.action_type,
                requested_by=approval.requested_by,
                conversation_id=approval.conversation_id,
                summary=approval.summary,
            )
        )
        self.notifier.publish(
            f"Approval needed: {approval.summary}",
            {
                "approval_id": approval.approval_id,
                "action_type": approval.action_type,
                "summary": approval.summary,
                "payload": approval.action.get("payload"),
                "conversation_id": approval.conversation_id,
                "requested_by": approval.requested_by,
                "decide": f"POST /approvals/{approval.approval_id}",
            },
            event="ApprovalRequested",
        )
        self.approvals.mark(approval.approval_id, "notified")
