"""Human approval of actions: pending -> approved | rejected, exactly once.

Item: ``PK=APPROVAL#<id>``, ``SK=META``. The approval id is the action id, so a redelivered
action event finds its approval instead of creating a second one. Pending approvals are listed
through the table's one GSI by overloading its keys (``user_id = "APPROVALS#<status>"``,
``updated_at`` = creation time): a Query, never a Scan. A decision is settled once its event is
published and, for a rejection, its note written in the conversation (``noted``; ``note_turn``:
the turn the note is claimed for, see :mod:`agentocore.workers.decisions`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentocore import ddb
from agentocore.memory.store import USER_INDEX

Status = Literal["pending", "approved", "rejected"]
Decision = Literal["approve", "reject"]
_DECIDED: dict[str, Status] = {"approve": "approved", "reject": "rejected"}


def action_digest(action: Mapping[str, Any]) -> str:
    """SHA-256 of what an approval approves: the action's type, id, payload version and payload
    (canonical JSON). Recorded with the approval; a worker performs only what matches it."""
    bound = {k: action.get(k) for k in ("action_type", "action_id", "payload_version", "payload")}
    text = json.dumps(bound, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def approval_pk(approval_id: str) -> str:
    return f"APPROVAL#{approval_id}"


def status_key(status: str) -> str:
    """The overloaded GSI partition value for approvals in ``status``."""
    return f"APPROVALS#{status}"


class ApprovalError(Exception):
    """Base class; ``status`` is the HTTP status an API should answer with."""

    status = 400


class ApprovalNotFound(ApprovalError):
    status = 404


class AlreadyDecided(ApprovalError):
    status = 409


class SelfApprovalForbidden(ApprovalError):
    status = 403


@dataclass(frozen=True)
class Approval:
    """One approval record."""

    approval_id: str
    status: Status
    action_type: str
    action: dict[str, Any]
    requested_by: str | None
    conversation_id: str | None
    summary: str
    created_at: str
    digest: str = ""
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    event_published: bool = False
    notified: bool = False
    noted: bool = False
    note_turn: int | None = None

    @property
    def settled(self) -> bool:
        """The decision's event is published and, for a rejection in a conversation, the
        rejection note is written: nothing is left for a retry of the decision to do."""
        needs_note = self.status == "rejected" and self.conversation_id is not None
        return self.event_published and (self.noted or not needs_note)

    def as_dict(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "status": self.status,
            "action_type": self.action_type,
            "action": self.action,
            "requested_by": self.requested_by,
            "conversation_id": self.conversation_id,
            "summary": self.summary,
            "created_at": self.created_at,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "reason": self.reason,
        }


def _from_item(item: dict[str, Any]) -> Approval:
    return Approval(
        approval_id=str(item["approval_id"]["S"]),
        status=str(item["status"]["S"]),  # type: ignore[arg-type]
        action_type=str(item["action_type"]["S"]),
        action=json.loads(item["action"]["S"]),
        requested_by=ddb.get_str(item, "requested_by"),
        conversation_id=ddb.get_str(item, "conversation_id"),
        summary=ddb.get_str(item, "summary") or "",
        digest=ddb.get_str(item, "digest") or "",
        created_at=str(item["created_at"]["S"]),
        decided_by=ddb.get_str(item, "decided_by"),
        decided_at=ddb.get_str(item, "decided_at"),
        reason=ddb.get_str(item, "reason"),
        event_published=bool(item.get("event_published", {}).get("BOOL", False)),
        notified=bool(item.get("notified", {}).get("BOOL", False)),
        noted=bool(item.get("noted", {}).get("BOOL", False)),
        note_turn=ddb.get_int(item, "note_turn") if "note_turn" in item else None,
    )


class ApprovalStore(ddb.TableStore):
    """Approval records in the single table (client built lazily)."""

    def _key(self, approval_id: str) -> dict[str, Any]:
        return {"PK": ddb.s(approval_pk(approval_id)), "SK": ddb.s("META")}

    def create(
        self,
        approval_id: str,
        *,
        action_type: str,
        action: dict[str, Any],
        requested_by: str | None,
        conversation_id: str | None,
        summary: str = "",
    ) -> tuple[Approval, bool]:
        """Create a pending approval; returns ``(approval, created)`` (False: it existed)."""
        now = self._clock()
        item: dict[str, Any] = {
            **self._key(approval_id),
            "approval_id": ddb.s(approval_id),
            "status": ddb.s("pending"),
            "action_type": ddb.s(action_type),
            "action": ddb.s(json.dumps(action, separators=(",", ":"), default=str)),
            "digest": ddb.s(action_digest(action)),
            "created_at": ddb.s(ddb.iso(now)),
            "user_id": ddb.s(status_key("pending")),
            "updated_at": ddb.s(ddb.iso(now)),
            "event_published": {"BOOL": False},
            "ttl": self.expires(now),
        }
        if requested_by:
            item["requested_by"] = ddb.s(requested_by)
        if conversation_id:
            item["conversation_id"] = ddb.s(conversation_id)
        if summary:
            item["summary"] = ddb.s(summary)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return self.get(approval_id), False
        return _from_item(item), True

    def get(self, approval_id: str) -> Approval:
        item = self.client.get_item(
            TableName=self.table_name, Key=self._key(approval_id), ConsistentRead=True
        ).get("Item")
        if not item:
            raise ApprovalNotFound(f"approval {approval_id} not found")
        return _from_item(item)

    def list_by_status(
        self,
        status: Status = "pending",
        *,
        limit: int = 50,
        start_key: dict[str, Any] | None = None,
    ) -> tuple[list[Approval], dict[str, Any] | None]:
        """Approvals in ``status``, oldest first (the queue order approvers work in)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "user_id = :k",
            "ExpressionAttributeValues": {":k": ddb.s(status_key(status))},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        page = self.client.query(**kwargs)
        return [_from_item(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")

    def decide(
        self, approval_id: str, decision: Decision, *, decided_by: str, reason: str | None = None
    ) -> tuple[Approval, bool]:
        """Move a pending approval to approved/rejected, atomically and once.

        Returns ``(approval, fresh)``: ``fresh`` is False when the same decision was already
        recorded but is not :attr:`~Approval.settled` (a retry after a failed publish or a
        failed rejection note), so the caller finishes it. Anything else on a decided approval
        raises AlreadyDecided; the requester deciding their own action raises
        SelfApprovalForbidden.
        """
        new_status = _DECIDED[decision]
        now = ddb.iso(self._clock())
        values: dict[str, Any] = {
            ":pending": ddb.s("pending"),
            ":status": ddb.s(new_status),
            ":by": ddb.s(decided_by),
            ":at": ddb.s(now),
            ":gsi": ddb.s(status_key(new_status)),
        }
        sets = "#s = :status, decided_by = :by, decided_at = :at, user_id = :gsi, updated_at = :at"
        if reason:
            values[":reason"] = ddb.s(reason)
            sets += ", reason = :reason"
        try:
            item = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(approval_id),
                UpdateExpression=f"SET {sets}",
                ConditionExpression="attribute_exists(PK) AND #s = :pending AND "
                "(attribute_not_exists(requested_by) OR requested_by <> :by)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except self.client.exceptions.ConditionalCheckFailedException:
            current = self.get(approval_id)  # raises ApprovalNotFound
            if current.status == "pending":
                raise SelfApprovalForbidden(
                    "the user who requested an action cannot approve or reject it"
                ) from None
            if current.status == new_status and not current.settled:
                return current, False
            raise AlreadyDecided(
                f"approval {approval_id} was already {current.status} by {current.decided_by}"
            ) from None
        return _from_item(item), True

    def mark(self, approval_id: str, flag: Literal["event_published", "notified", "noted"]) -> None:
        """Record that the decision's event reached the bus / approvers were notified / the
        rejection note is written (or there is no conversation to write it in)."""
        self.client.update_item(
            TableName=self.table_name,
            Key=self._key(approval_id),
            UpdateExpression=f"SET {flag} = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    def claim_note(self, approval_id: str, turn: int, *, previous: int | None) -> bool:
        """Claim ``turn`` as the conversation turn of the rejection note, if the claim is still
        ``previous`` (None: unclaimed). False when another attempt moved it first."""
        values: dict[str, Any] = {":t": ddb.n(turn)}
        if previous is None:
            condition = "attribute_not_exists(note_turn)"
        else:
            condition = "note_turn = :prev"
            values[":prev"] = ddb.n(previous)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(approval_id),
                UpdateExpression="SET note_turn = :t",
                ConditionExpression=f"attribute_exists(PK) AND {condition}",
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
