"""standard_worker's service: performs refunds exactly once in the demo payment system.

The "payment system" is a DynamoDB item per action (``PK=REFUND#<action_id>``, ``SK=META``)
written with ``attribute_not_exists``: whatever the delivery count, one refund per action.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from agentocore import ddb
from agentocore.approvals import ApprovalStore
from agentocore.events.contracts import (
    ActionApproved,
    ActionCompleted,
    ActionFailed,
    EventContractError,
    EventDetail,
    RefundRequested,
    parse_detail,
)
from agentocore.events.publisher import EventPublisher
from agentocore.workers.policy import ApprovalPolicy, ApprovalRequired

log = logging.getLogger(__name__)
SUPPORTED_CURRENCIES = frozenset({"USD", "EUR", "GBP"})


class PaymentDeclined(Exception):
    """A permanent refusal: retrying cannot help (reported as ActionFailed)."""


class PaymentSystemUnavailable(RuntimeError):
    """A transient failure: raised so the event is retried and, in the end, dead-lettered."""


class RefundLedger(ddb.TableStore):
    """The demo payment system."""

    def __init__(self, table_name: str, *, fail_order_ids: Iterable[str] = (), **kwargs: Any):
        super().__init__(table_name, **kwargs)
        self.fail_order_ids = frozenset(fail_order_ids)

    def refund(self, refund: RefundRequested, *, approved_by: str | None = None) -> dict[str, Any]:
        """Record the refund once; a repeat returns the first record with ``duplicate=True``."""
        if refund.order_id in self.fail_order_ids:
            raise PaymentSystemUnavailable(
                f"payment system unavailable for order {refund.order_id}"
            )
        if refund.currency not in SUPPORTED_CURRENCIES:
            raise PaymentDeclined(f"currency {refund.currency} is not supported")
        key = {"PK": ddb.s(f"REFUND#{refund.action_id}"), "SK": ddb.s("META")}
        record = {
            "refund_id": f"rf_{refund.action_id[:8]}",
            "action_id": refund.action_id,
            "order_id": refund.order_id,
            "amount": refund.amount,
            "currency": refund.currency,
            "approved_by": approved_by,
            "processed_at": ddb.iso(self._clock()),
        }
        item = {**key, **{k: ddb.s(str(v)) for k, v in record.items() if isinstance(v, str)}}
        item["amount"] = ddb.n(refund.amount)
        try:
            self.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(PK)"
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            existing = self.client.get_item(
                TableName=self.table_name, Key=key, ConsistentRead=True
            )["Item"]
            log.info("refund already performed", extra={"action_id": refund.action_id})
            return {
                "refund_id": ddb.get_str(existing, "refund_id"),
                "action_id": refund.action_id,
                "order_id": ddb.get_str(existing, "order_id"),
                "amount": ddb.get_float(existing, "amount"),
                "currency": ddb.get_str(existing, "currency"),
                "approved_by": ddb.get_str(existing, "approved_by"),
                "processed_at": ddb.get_str(existing, "processed_at"),
                "duplicate": True,
            }
        return {**record, "duplicate": False}

    def count_refunds(self, action_id: str) -> int:
        """How many refund records exist for an action (0 or 1; for tests and audits)."""
        response = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": ddb.s(f"REFUND#{action_id}")},
            Select="COUNT",
        )
        return int(response["Count"])


class ActionWorker:
    """Performs RefundRequested (when no approval is needed) and ActionApproved events."""

    def __init__(
        self,
        ledger: RefundLedger,
        approvals: ApprovalStore,
        publisher: EventPublisher,
        policy: ApprovalPolicy | None = None,
    ) -> None:
        self.ledger = ledger
        self.approvals = approvals
        self.publisher = publisher
        self.policy = policy or ApprovalPolicy()

    def handle(self, event: EventDetail) -> dict[str, Any]:
        """Perform the action; returns what was published. Raises for retryable failures and
        for events this worker must not act on (they belong in the DLQ)."""
        if isinstance(event, RefundRequested):
            if self.policy.requires_approval(event):
                raise ApprovalRequired(
                    f"refund {event.action_id} of {event.amount} {event.currency} needs an "
                    "approval; standard_worker will not perform it without one"
                )
            return self._perform(event, approved_by=None)
        if isinstance(event, ActionApproved):
            approval = self.approvals.get(event.approval_id)
            if approval.status != "approved" or approval.action.get("action_id") != event.action_id:
                raise ApprovalRequired(
                    f"ActionApproved for {event.action_id} does not match a recorded approval "
                    f"(status {approval.status})"
                )
            if approval.action_type != RefundRequested.DETAIL_TYPE:
                raise EventContractError(f"no worker for action type {approval.action_type}")
            refund = parse_detail(approval.action_type, approval.action)
            assert isinstance(refund, RefundRequested)
            return self._perform(refund, approved_by=approval.decided_by)
        raise EventContractError(f"standard_worker does not handle {event.DETAIL_TYPE}")

    def _perform(self, refund: RefundRequested, *, approved_by: str | None) -> dict[str, Any]:
        try:
            result = self.ledger.refund(refund, approved_by=approved_by)
        except PaymentDeclined as exc:
            failed = ActionFailed(
                action_id=refund.action_id,
                action_type=refund.DETAIL_TYPE,
                conversation_id=refund.conversation_id,
                error=str(exc),
            )
            self.publisher.publish(failed)
            return {"event": failed.DETAIL_TYPE, "error": str(exc)}
        completed = ActionCompleted(
            action_id=refund.action_id,
            action_type=refund.DETAIL_TYPE,
            conversation_id=refund.conversation_id,
            result=result,
        )
        self.publisher.publish(completed)
        return {"event": completed.DETAIL_TYPE, "result": result}
