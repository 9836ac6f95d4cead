"""Request receipts: what a saved run answered, so that a retry of the same request answers
the same instead of running (and storing) the exchange again.

A request that carries an identity (an ``Idempotency-Key``, an invocation id, an S3/SNS
delivery's request id, a schedule's event id) gets a receipt written by the same
TransactWriteItems that saves its turns: it exists exactly when the exchange is stored. Its
retry (the response was lost, the idempotency record's completion or the completion event's
publish failed, the save timed out after it committed, two deliveries at once) finds it and is
answered from it.

Item: ``PK = CONV#<conversation>`` (the conversation's own leading key: no extra IAM),
``SK = REQ#<sha256 of the request id>``; ``outcome`` is the run's result as JSON, opaque here.
It carries no ``user_id`` (that would put it on the user index) but ``owner``. A failed run's
receipt is ``failed``: its retry runs again and replaces it (conditional on the turn it read).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from agentocore import ddb

REQUEST_PREFIX = "REQ#"
#: A receipt's ``outcome`` is cut to stay under this (the item limit is 400 KB).
MAX_OUTCOME_BYTES = 360_000


def receipt_sk(request_id: str) -> str:
    """Fixed-size and key-safe whatever the request id (up to 1 KB of text)."""
    return REQUEST_PREFIX + hashlib.sha256(request_id.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Receipt:
    """One saved request. ``first_turn``/``turn_count`` are the save's (filled in by
    :meth:`ConversationMemory.append`); ``exchange_turn`` is the turn of the user message that
    started the exchange when it is earlier (a continuation's)."""

    request_id: str
    outcome: str
    owner: str | None = None
    failed: bool = False
    first_turn: int = 0
    turn_count: int = 0
    exchange_turn: int | None = None
    #: The deferred run's continuation (its invocation id, agent, priority, iterations).
    running_invocation: str | None = None
    running_agent_id: str | None = None
    running_priority: str | None = None
    running_iterations: int = 0
    #: For a retry of a failed run: the ``first_turn`` of the receipt it replaces.
    replaces_turn: int | None = None

    def item(self, pk: str, *, now_iso: str, ttl: dict[str, str]) -> dict[str, Any]:
        """The item under the conversation's partition key ``pk``."""
        s, n = ddb.s, ddb.n
        item: dict[str, Any] = {
            "PK": s(pk),
            "SK": s(receipt_sk(self.request_id)),
            "request_id": s(self.request_id),
            "outcome": s(self.outcome),
            "failed": {"BOOL": self.failed},
            "first_turn": n(self.first_turn),
            "turn_count": n(self.turn_count),
            "created_at": s(now_iso),
            "ttl": ttl,
        }
        if self.owner is not None:
            item["owner"] = s(self.owner)
        if self.exchange_turn is not None:
            item["exchange_turn"] = n(self.exchange_turn)
        if self.running_invocation is not None:
            item["running_invocation"] = s(self.running_invocation)
            item["running_agent_id"] = s(self.running_agent_id or "default")
            item["running_priority"] = s(self.running_priority or "normal")
            item["running_iterations"] = n(self.running_iterations)
        return item

    def put(self, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
        """The transaction's Put: a new receipt, or the failed one this retry replaces."""
        put: dict[str, Any] = {
            "TableName": table_name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(PK)",
        }
        if self.replaces_turn is not None:
            put["ConditionExpression"] = (
                "attribute_not_exists(PK) OR (failed = :true AND first_turn = :replaced)"
            )
            put["ExpressionAttributeValues"] = {
                ":true": {"BOOL": True},
                ":replaced": ddb.n(self.replaces_turn),
            }
        return {"Put": put}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Receipt:
        get_str, get_int = ddb.get_str, ddb.get_int
        return cls(
            request_id=get_str(item, "request_id") or "",
            outcome=get_str(item, "outcome") or "{}",
            owner=get_str(item, "owner"),
            failed=bool(item.get("failed", {}).get("BOOL", False)),
            first_turn=get_int(item, "first_turn"),
            turn_count=get_int(item, "turn_count"),
            exchange_turn=get_int(item, "exchange_turn") if "exchange_turn" in item else None,
            running_invocation=get_str(item, "running_invocation"),
            running_agent_id=get_str(item, "running_agent_id"),
            running_priority=get_str(item, "running_priority"),
            running_iterations=get_int(item, "running_iterations"),
        )
