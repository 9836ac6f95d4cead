"""Human approval of actions: pending -> approved | rejected, exactly once.

Item: ``PK=APPROVAL#<id>``, ``SK=META``. The approval id is the action id, so a redelivered
action event finds its approval instead of creating a second one. Approvals are listed by status
through the table's user index by overloading its keys (``updated_at`` = creation time, then the
decision's): a Query, never a Scan. A decision is settled once its event is published and, for a
rejection, its note written in the conversation (``noted``; ``note_turn``: the turn the note is
claimed for, see :mod:`agentocore.workers.decisions`).

Sharded index partitions: ``user_id = APPROVALS#<status>#<n>`` with ``n = hash(id) % shards``
(:data:`APPROVAL_SHARDS`), so no index partition takes every approval's writes. A listing
queries every shard in parallel and merges them by time; its page token carries each shard's
position. ``shards`` may grow between deployments, never shrink (an item keeps the shard it was
written with until its decision). Items written before sharding (``APPROVALS#<status>``, the
legacy partition) are read as one more shard, so nothing needs migrating; a decision moves them
to a sharded partition.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
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


#: Index partitions per status: 50 approvals/s at the capacity model's target load (10,000
#: turns/s) write 2 KB index entries (2 WCU) twice per approval (created, decided): ~200 WCU/s
#: on the pending index, under a partition's 1,000 with 8 shards up to ~40x that load
#: (``benchmarks/capacity.py``). A listing page costs one Query per shard.
APPROVAL_SHARDS = 8
#: The stream name of the legacy unsharded partition in a page token.
LEGACY = "legacy"


def shard_of(approval_id: str, shards: int) -> int:
    """The index shard of an approval (stable: SHA-256 of its id)."""
    digest = hashlib.sha256(approval_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def status_key(status: str, shard: int | None = None) -> str:
    """The overloaded GSI partition value for approvals in ``status`` on ``shard`` (None: the
    legacy unsharded partition)."""
    return f"APPROVALS#{status}" if shard is None else f"APPROVALS#{status}#{shard}"


class ApprovalError(Exception):
    """Base class; ``status`` is the HTTP status an API should answer with."""

    status = 400


class ApprovalNotFound(ApprovalError):
    status = 404


class AlreadyDecided(ApprovalError):
    status = 409


class SelfApprovalForbidden(ApprovalError):
    status = 403


class InvalidPageToken(ApprovalError):
    """A listing's position that no listing of this store produced."""


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


#: A stream's position in a page token: absent = from the start, None = read to the end,
#: ``[updated_at, approval_id]`` = after that item.
Position = list[str] | None


class ApprovalStore(ddb.TableStore):
    """Approval records in the single table (client built lazily); ``shards``: the index
    partitions per status (see the module docstring)."""

    #: Threads a listing queries its shards with (None: one per shard; 1: in shard order, as
    #: the fault suite needs to replay a seed's faults call for call).
    query_threads: int | None = None

    def __init__(self, table_name: str, *, shards: int = APPROVAL_SHARDS, **kwargs: Any) -> None:
        super().__init__(table_name, **kwargs)
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.shards = shards

    def _index_key(self, status: str, approval_id: str) -> str:
        return status_key(status, shard_of(approval_id, self.shards))

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
            "user_id": ddb.s(self._index_key("pending", approval_id)),
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
        start: Mapping[str, Any] | None = None,
    ) -> tuple[list[Approval], dict[str, Any] | None]:
        """Approvals in ``status``, oldest first (the queue order approvers work in), and the
        position after them (None: nothing more). ``start`` is a position this method returned;
        raises :class:`InvalidPageToken` for anything else.

        One Query of up to ``limit`` items per shard (and the legacy partition), in parallel,
        merged by time: each shard's items come in its own order, so the page takes a prefix of
        every shard and the position is, per shard, the last item taken."""
        positions = self._positions(start)
        streams = [sid for sid in self._streams() if positions.get(sid, []) is not None]
        client = self.client  # built once, shared by the threads
        if not streams:
            return [], None
        with ThreadPoolExecutor(max_workers=self.query_threads or len(streams)) as pool:
            pages = list(
                pool.map(
                    lambda sid: self._query_stream(client, status, sid, positions.get(sid), limit),
                    streams,
                )
            )
        tagged = [
            [(ddb.get_str(item, "updated_at") or "", i, item) for item in items]
            for i, (items, _) in enumerate(pages)
        ]
        taken = list(heapq.merge(*tagged, key=lambda t: (t[0], t[1])))[:limit]
        counts = [0] * len(streams)
        last: dict[int, dict[str, Any]] = {}
        for _, i, item in taken:
            counts[i] += 1
            last[i] = item
        after: dict[str, Position] = dict(positions)
        for i, sid in enumerate(streams):
            items, more = pages[i]
            if counts[i] == len(items) and not more:
                after[sid] = None  # read to the end
            elif i in last:
                after[sid] = [
                    ddb.get_str(last[i], "updated_at") or "",
                    str(last[i]["approval_id"]["S"]),
                ]
        done = all(after.get(sid, []) is None for sid in self._streams())
        token = None if done else {"v": 1, "p": after}
        return [_from_item(item) for _, _, item in taken], token

    def _streams(self) -> list[str]:
        return [*(str(n) for n in range(self.shards)), LEGACY]

    def _positions(self, start: Mapping[str, Any] | None) -> dict[str, Position]:
        """The per-stream positions of a page token, validated."""
        if start is None:
            return {}
        raw = start.get("p")
        if start.get("v") != 1 or not isinstance(raw, dict):
            raise InvalidPageToken("next_token is not valid")
        known = set(self._streams())
        positions: dict[str, Position] = {}
        for sid, pos in raw.items():
            valid = pos is None or (
                isinstance(pos, list) and len(pos) == 2 and all(isinstance(p, str) for p in pos)
            )
            if sid not in known or not valid:
                raise InvalidPageToken("next_token is not valid")
            positions[sid] = pos
        return positions

    def _query_stream(
        self, client: Any, status: str, sid: str, position: Position, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` items of one stream after ``position``; whether more may follow."""
        key = status_key(status, None if sid == LEGACY else int(sid))
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "user_id = :k",
            "ExpressionAttributeValues": {":k": ddb.s(key)},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if position:
            updated_at, approval_id = position
            kwargs["ExclusiveStartKey"] = {
                "user_id": ddb.s(key),
                "updated_at": ddb.s(updated_at),
                **self._key(approval_id),
            }
        items: list[dict[str, Any]] = []
        while True:  # a short page only when 1 MB of large items cut it
            page = client.query(**kwargs)
            items.extend(page.get("Items", []))
            more = "LastEvaluatedKey" in page
            if not more or len(items) >= limit:
                return items, more
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(items)

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
            ":gsi": ddb.s(self._index_key(new_status, approval_id)),
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
