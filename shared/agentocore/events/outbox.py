"""The transactional outbox: a turn's action requests, saved with the turn, published after.

``ConversationMemory.append`` writes one outbox item per save that requests actions, in the
same TransactWriteItems as the turns, so a turn that fails to save requests nothing. The relay
(``functions/outbox_relay``, fed by the table's stream) publishes the item's entries and marks
it published. Delivery is at least once: workers are idempotent on ``action_id``.

Item: ``PK = OUTBOX#<conversation>``, ``SK = TURN#<first turn of the save>`` (a leading-key
prefix of its own, for ``dynamodb:LeadingKeys``); ``entries`` is the JSON list of the actions'
``ActionRequest.entry()``. Until it is published the item carries ``outbox_pending`` (a shard
``P0``..``P3``), the hash key of the sparse index ``OutboxPendingIndex`` (range key
``created_at``): :meth:`OutboxRelay.republish` queries it for items left unpublished (the relay
gave up: its on-failure record went to the DLQ) and never scans the table.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentocore import ddb
from agentocore.aws import LazyClient
from agentocore.events.actions import ActionRequest
from agentocore.events.publisher import put_events

log = logging.getLogger(__name__)

OUTBOX_PREFIX = "OUTBOX#"
PENDING_INDEX = "OutboxPendingIndex"
PENDING_ATTR = "outbox_pending"
PENDING_SHARDS = 4
#: The outbox item must fit a DynamoDB item (400 KB) with its keys and other attributes.
MAX_OUTBOX_BYTES = 380_000


class OutboxTooLarge(ValueError):
    """A save's action entries do not fit one outbox item."""


def outbox_pk(conversation_id: str) -> str:
    return f"{OUTBOX_PREFIX}{conversation_id}"


def outbox_sk(first_turn: int) -> str:
    return f"TURN#{first_turn:09d}"


def pending_shard(conversation_id: str) -> str:
    """The pending index's partition of a conversation's items (spreads the index's writes)."""
    return f"P{zlib.crc32(conversation_id.encode()) % PENDING_SHARDS}"


def entries_json(actions: Sequence[ActionRequest]) -> str:
    """The ``entries`` attribute: each action's PutEvents entry, without ``EventBusName``."""
    return json.dumps([a.entry() for a in actions], separators=(",", ":"), default=str)


def outbox_item(
    conversation_id: str,
    first_turn: int,
    actions: Sequence[ActionRequest],
    *,
    now_iso: str,
    ttl: dict[str, str],
    entries: str | None = None,
) -> dict[str, Any]:
    """The low-level item for a save's ``actions``; raises :class:`OutboxTooLarge`."""
    entries = entries if entries is not None else entries_json(actions)
    if len(entries.encode()) > MAX_OUTBOX_BYTES:
        raise OutboxTooLarge(
            f"the turn's {len(actions)} actions need {len(entries.encode())} bytes; "
            f"an outbox item holds {MAX_OUTBOX_BYTES}"
        )
    return {
        "PK": ddb.s(outbox_pk(conversation_id)),
        "SK": ddb.s(outbox_sk(first_turn)),
        "conversation_id": ddb.s(conversation_id),
        "turn": ddb.n(first_turn),
        "entries": ddb.s(entries),
        "action_ids": {"L": [ddb.s(a.action_id) for a in actions]},
        "created_at": ddb.s(now_iso),
        PENDING_ATTR: ddb.s(pending_shard(conversation_id)),
        "ttl": ttl,
    }


def is_outbox_insert(record: Mapping[str, Any]) -> bool:
    """Whether a DynamoDB stream record is the INSERT of an outbox item."""
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    pk = (keys.get("PK") or {}).get("S", "")
    return record.get("eventName") == "INSERT" and str(pk).startswith(OUTBOX_PREFIX)


@dataclass(frozen=True)
class RepublishReport:
    """What :meth:`OutboxRelay.republish` did."""

    published: list[str] = field(default_factory=list)  # "PK|SK" of items published
    failed: dict[str, str] = field(default_factory=dict)  # "PK|SK" -> error


class OutboxRelay(ddb.TableStore):
    """Publishes outbox items to the bus and marks them published (clients built lazily)."""

    def __init__(
        self,
        table_name: str,
        event_bus_name: str,
        *,
        events_client: Any | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(table_name, **kwargs)
        self.event_bus_name = event_bus_name
        self._events = LazyClient("events", events_client)

    @property
    def events(self) -> Any:
        return self._events.get()

    def relay(self, record: Mapping[str, Any]) -> int:
        """Publish the outbox item a stream record inserted; the number of entries published
        (0: not an outbox insert, the item is gone, or it was published already — a
        redelivered record). Raises when publishing or marking fails (the batch retries)."""
        if not is_outbox_insert(record):
            return 0
        key = dict(record["dynamodb"]["Keys"])
        item = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            log.warning("outbox item gone before it was relayed", extra={"key": _key_text(key)})
            return 0
        if "published_at" in item:
            log.info("outbox item already published", extra={"key": _key_text(key)})
            return 0
        return self.publish(item)

    def publish(self, item: Mapping[str, Any]) -> int:
        """PutEvents of the item's entries, then mark it published; the entries' count."""
        entries = json.loads(item["entries"]["S"])
        put_events(self.events, [{**e, "EventBusName": self.event_bus_name} for e in entries])
        self.client.update_item(
            TableName=self.table_name,
            Key={"PK": item["PK"], "SK": item["SK"]},
            UpdateExpression=f"SET published_at = :now REMOVE {PENDING_ATTR}",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":now": ddb.s(ddb.iso(self._clock()))},
        )
        return len(entries)

    def pending(self, older_than_s: float, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Unpublished outbox items created more than ``older_than_s`` ago (the sparse pending
        index, one Query per shard and page; eventually consistent, so the caller re-reads)."""
        cutoff = ddb.iso(self._clock() - older_than_s)
        for shard in range(PENDING_SHARDS):
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": PENDING_INDEX,
                "KeyConditionExpression": f"{PENDING_ATTR} = :p AND created_at < :cutoff",
                "ExpressionAttributeValues": {":p": ddb.s(f"P{shard}"), ":cutoff": ddb.s(cutoff)},
                "Limit": page_size,
            }
            while True:
                page = self.client.query(**kwargs)
                yield from page.get("Items", [])
                last = page.get("LastEvaluatedKey")
                if not last:
                    break
                kwargs["ExclusiveStartKey"] = last

    def republish(self, older_than_s: float) -> RepublishReport:
        """Publish every outbox item still unpublished after ``older_than_s`` seconds (e.g.
        after the relay gave up and its failure was recorded). Each item is re-read
        consistently first: one published meanwhile is skipped."""
        report = RepublishReport()
        for indexed in self.pending(older_than_s):
            key = {"PK": indexed["PK"], "SK": indexed["SK"]}
            name = _key_text(key)
            try:
                item = self.client.get_item(
                    TableName=self.table_name, Key=key, ConsistentRead=True
                ).get("Item")
                if item is None or "published_at" in item:
                    continue
                self.publish(item)
            except Exception as exc:  # one item's failure must not stop the others
                log.exception("republish failed", extra={"key": name})
                report.failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            report.published.append(name)
        return report


def _key_text(key: Mapping[str, Any]) -> str:
    return f"{key['PK']['S']}|{key['SK']['S']}"
