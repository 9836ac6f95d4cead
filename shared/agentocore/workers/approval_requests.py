"""approval_worker's service: high-value actions become pending approvals + an SNS notice."""

from __future__ import annotations

import logging
from typing import Any

from agentocore.approvals import Approval, ApprovalStore
from agentocore.events.contracts import RefundRequested
from agentocore.workers.notify import SnsNotifier
from agentocore.workers.policy import ApprovalPolicy

log = logging.getLogger(__name__)


class ApprovalRequester:
    """Creates the approval (once per action) and notifies the approvers' topic (once)."""

    def __init__(
        self,
        approvals: ApprovalStore,
        notifier: SnsNotifier,
        policy: ApprovalPolicy | None = None,
    ) -> None:
        self.approvals = approvals
        self.notifier = notifier
        self.policy = policy or ApprovalPolicy()

    def handle(self, refund: RefundRequested) -> dict[str, Any]:
        if not self.policy.requires_approval(refund):
            # Routed here although no approval is needed: be safe, still ask a human.
            log.warning("approval requested below threshold", extra={"action": refund.action_id})
        approval, created = self.approvals.create(
            refund.action_id,
            action_type=refund.DETAIL_TYPE,
            action=refund.model_dump(mode="json"),
            requested_by=refund.requested_by or refund.user_id,
            conversation_id=refund.conversation_id,
            amount=refund.amount,
            currency=refund.currency,
        )
        if approval.status == "pending" and not approval.notified:
            self._notify(approval)
        return {"approval_id": approval.approval_id, "created": created, "status": approval.status}

    def _notify(self, approval: Approval) -> None:
        amount = f"{approval.amount:,.2f} {approval.currency}" if approval.amount else "?"
        self.notifier.publish(
            f"Approval needed: {approval.action_type} {amount}",
            {
                "approval_id": approval.approval_id,
                "action_type": approval.action_type,
                "amount": approval.amount,
                "currency": approval.currency,
                "conversation_id": approval.conversation_id,
                "requested_by": approval.requested_by,
                "decide": f"POST /approvals/{approval.approval_id}",
            },
            event="ApprovalRequested",
        )
        self.approvals.mark(approval.approval_id, "notified")
