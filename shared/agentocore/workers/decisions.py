"""Approval decisions from the API: decide once, publish the outcome, note rejections."""

from __future__ import annotations

import logging

from agentocore.approvals import Approval, ApprovalStore, Decision
from agentocore.events.contracts import ActionApproved, ActionRejected
from agentocore.events.publisher import EventPublisher
from agentocore.memory.store import ConversationMemory, TurnConflict

log = logging.getLogger(__name__)


class ApprovalDecisions:
    """``decide`` records the decision atomically, then publishes ActionApproved/ActionRejected.

    If publishing fails the decision stays recorded with ``event_published=false`` and the
    error propagates; the same decision sent again re-publishes (workers are idempotent on the
    action id), a different one is refused. No path skips the approval or performs twice.
    """

    def __init__(
        self, approvals: ApprovalStore, publisher: EventPublisher, memory: ConversationMemory
    ) -> None:
        self.approvals = approvals
        self.publisher = publisher
        self.memory = memory

    def decide(
        self, approval_id: str, decision: Decision, *, decided_by: str, reason: str | None = None
    ) -> Approval:
        approval, fresh = self.approvals.decide(
            approval_id, decision, decided_by=decided_by, reason=reason
        )
        model = ActionApproved if approval.status == "approved" else ActionRejected
        self.publisher.publish(
            model(
                approval_id=approval.approval_id,
                action_id=str(approval.action.get("action_id") or approval.approval_id),
                action_type=approval.action_type,
                action=approval.action,
                decided_by=approval.decided_by or decided_by,
                reason=approval.reason,
                conversation_id=approval.conversation_id,
                digest=approval.digest,
            )
        )
        self.approvals.mark(approval.approval_id, "event_published")
        if fresh and approval.status == "rejected" and approval.conversation_id:
            self._note_rejection(approval)
        return approval

    def _note_rejection(self, approval: Approval) -> None:
        what = approval.summary or approval.action_type
        note = (
            f"[Approval {approval.approval_id}] The request ({what}) was rejected by an "
            f"approver{': ' + approval.reason if approval.reason else ''}."
        )
        conversation_id = str(approval.conversation_id)
        for _ in range(3):
            meta = self.memory.get_meta(conversation_id)
            if not meta.exists or meta.user_id is None:
                # the requesting turn was never saved: a note would create a conversation
                # without an owner (nobody's); the decision itself is recorded and published
                log.warning(
                    "no conversation to note the rejection in", extra={"id": conversation_id}
                )
                return
            try:
                self.memory.append(
                    conversation_id,
                    [{"role": "assistant", "content": [{"text": note}]}],
                    expected_turn_count=meta.turn_count,
                    user_id=meta.user_id,  # the note keeps the conversation its owner's
                )
                return
            except TurnConflict:
                continue
        log.error("could not append the rejection note", extra={"approval": approval.approval_id})
