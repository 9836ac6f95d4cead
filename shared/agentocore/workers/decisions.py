"""Approval decisions from the API: decide once, publish the outcome, note rejections once.

A rejection is noted in the requester's conversation as an assistant turn, exactly once
whichever attempt of the decision gets that far (a retry after a failed publish or a failed
note, two retries at once). The note's turn is claimed on the approval (``note_turn``) before
it is appended with ``expected_turn_count = note_turn - 1``, so only one append can succeed for
a claim; a claim moves on only when its turn is seen holding another message, where no note can
be appended any more. ``noted`` is set once the note is there.
"""

from __future__ import annotations

import logging

from agentocore.approvals import Approval, ApprovalStore, Decision
from agentocore.events.contracts import ActionApproved, ActionRejected
from agentocore.events.publisher import EventPublisher
from agentocore.memory import codec
from agentocore.memory.store import ConversationMemory, TurnConflict, conv_pk, turn_sk

log = logging.getLogger(__name__)

#: Rounds of (read, claim, append) before the note is left to the next retry of the decision.
NOTE_ATTEMPTS = 5


def note_prefix(approval_id: str) -> str:
    """How a rejection note starts (it names its approval)."""
    return f"[Approval {approval_id}]"


class ApprovalDecisions:
    """``decide`` records the decision atomically, then publishes ActionApproved/ActionRejected
    and, for a rejection, notes it in the conversation.

    If publishing fails the decision stays recorded with ``event_published=false`` and the
    error propagates; the same decision sent again finishes what is missing (the event, the
    note), a different one is refused. No path skips the approval or performs twice.
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
        approval, _ = self.approvals.decide(
            approval_id, decision, decided_by=decided_by, reason=reason
        )
        if not approval.event_published:
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
        if approval.status == "rejected" and approval.conversation_id and not approval.noted:
            self._note_rejection(approval)
        return approval

    def _note_text(self, approval: Approval) -> str:
        what = approval.summary or approval.action_type
        return (
            f"{note_prefix(approval.approval_id)} The request ({what}) was rejected by an "
            f"approver{': ' + approval.reason if approval.reason else ''}."
        )

    def _note_rejection(self, approval: Approval) -> None:
        conversation_id = str(approval.conversation_id)
        current = approval
        for _ in range(NOTE_ATTEMPTS):
            if current.noted:
                return
            meta = self.memory.get_meta(conversation_id)
            if not meta.exists or meta.user_id is None:
                # the requesting turn was never saved: a note would create a conversation
                # without an owner (nobody's); the decision itself is recorded and published
                log.warning(
                    "no conversation to note the rejection in", extra={"id": conversation_id}
                )
                self.approvals.mark(approval.approval_id, "noted")
                return
            slot = meta.turn_count + 1
            claimed = current.note_turn  # set from an earlier read of the count: <= slot
            if claimed != slot:
                if claimed is not None and self._is_note(conversation_id, claimed, approval):
                    self.approvals.mark(approval.approval_id, "noted")  # another attempt's
                    return
                if not self.approvals.claim_note(approval.approval_id, slot, previous=claimed):
                    current = self.approvals.get(approval.approval_id)
                    continue
            try:
                self.memory.append(
                    conversation_id,
                    [{"role": "assistant", "content": [{"text": self._note_text(approval)}]}],
                    expected_turn_count=slot - 1,
                    user_id=meta.user_id,  # the note keeps the conversation its owner's
                )
            except TurnConflict:
                current = self.approvals.get(approval.approval_id)
                continue
            self.approvals.mark(approval.approval_id, "noted")
            return
        log.error("could not append the rejection note", extra={"approval": approval.approval_id})

    def _is_note(self, conversation_id: str, turn: int, approval: Approval) -> bool:
        """Whether turn ``turn`` of the conversation is this approval's rejection note."""
        item = self.memory.client.get_item(
            TableName=self.memory.table_name,
            Key={"PK": {"S": conv_pk(conversation_id)}, "SK": {"S": turn_sk(turn)}},
            ConsistentRead=True,
        ).get("Item")
        if not item or item.get("role", {}).get("S") != "assistant":
            return False
        content = codec.loads(item["content"]["S"])
        prefix = note_prefix(approval.approval_id)
        return any(str(block.get("text", "")).startswith(prefix) for block in content)
