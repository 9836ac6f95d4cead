"""The resumable event log: a conversation's run events in the single table, numbered.

Items ``PK=CONV#<conversation id>``, ``SK=EVT#<seq, 12 digits>``: the conversation's own
partition (its IAM scope, its pace), beside its turns (whose Queries read ``TURN#`` ranges only),
expiring after ``ttl_hours``. ``seq`` counts from 1 per conversation, without gaps from one
writer; a client that saw up to ``seq`` asks for what came ``after`` it (HTTP, or a reconnecting
socket) and drops anything at or below what it has, so nothing is lost or shown twice.

A writer takes the next number with a conditional put (``attribute_not_exists``): when another
writer (a worker telling of an approval) took it first, it reads the newest number again and
retries after a jittered wait. Numbers therefore become visible in order (number n + 1 is only
written once n exists), which is what makes ``after`` safe: a reader never sees n + 1 while n is
still to come. Text deltas of one model call are written together: when another event comes, past
:data:`FLUSH_CHARS` characters or :data:`FLUSH_S` seconds, so a streamed reply costs a few
writes, not one per delta. ``listeners`` get each record once it is stored (with its ``seq``):
that is what a live socket is sent.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from agentocore.ddb import TableStore, n, s
from agentocore.memory.store import conv_pk
from agentocore.stream.events import RunEvent, TextDelta

log = logging.getLogger(__name__)

PREFIX = "EVT#"
FLUSH_CHARS = 1024
FLUSH_S = 0.5
#: Conditional puts a writer tries before giving an event up (logged); after a lost race it
#: waits a little (jittered, growing) so that the writer that just won does not win every time.
PUT_ATTEMPTS = 32
CONFLICT_WAIT_S = 0.005
Record = dict[str, Any]


def event_sk(seq: int) -> str:
    return f"{PREFIX}{seq:012d}"


class EventLog(TableStore):
    """Reads and writers of the conversations' event logs."""

    def __init__(
        self,
        table_name: str,
        *,
        client: Any | None = None,
        ttl_hours: int = 24,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(table_name, client=client, clock=clock)
        self.ttl_hours = ttl_hours

    def writer(
        self,
        conversation_id: str,
        *,
        owner: str | None,
        run_id: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> EventLogWriter:
        """A writer for one run of ``owner``'s conversation (the owner is stored with each
        record: a conversation's first run is logged before its META exists)."""
        return EventLogWriter(self, conversation_id, owner, run_id=run_id, monotonic=monotonic)

    def last_seq(self, conversation_id: str) -> int:
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :evt)",
            ExpressionAttributeValues={":pk": s(conv_pk(conversation_id)), ":evt": s(PREFIX)},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
            ProjectionExpression="SK",
        )
        items = page.get("Items") or []
        return int(items[0]["SK"]["S"][len(PREFIX) :]) if items else 0

    def read(
        self, conversation_id: str, after: int = 0, limit: int = 200
    ) -> list[tuple[str | None, Record]]:
        """Up to ``limit`` ``(owner, record)`` with ``seq > after``, oldest first."""
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": s(conv_pk(conversation_id)),
                ":lo": s(event_sk(after + 1)),
                ":hi": s(event_sk(10**12 - 1)),
            },
            ScanIndexForward=True,
            Limit=limit,
            ConsistentRead=True,
        )
        records: list[tuple[str | None, Record]] = []
        for item in page.get("Items") or []:
            record = json.loads(item["event"]["S"])
            record["seq"] = int(item["SK"]["S"][len(PREFIX) :])
            records.append((item["owner"]["S"] if "owner" in item else None, record))
        return records

    def put(self, conversation_id: str, seq: int, record: Record, owner: str | None) -> bool:
        """Store ``record`` as number ``seq``; False when that number is taken."""
        now = self._clock()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "PK": s(conv_pk(conversation_id)),
                    "SK": s(event_sk(seq)),
                    "event": s(json.dumps(record, separators=(",", ":"), default=str)),
                    "ttl": n(int(now) + self.ttl_hours * 3600),
                    **({"owner": s(owner)} if owner else {}),
                },
                ConditionExpression="attribute_not_exists(SK)",
            )
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                return False
            raise
        return True


class EventLogWriter:
    """An :class:`~agentocore.stream.events.EventSink` that appends to one conversation's log
    (thread-safe: tools run on threads; the loop emits from its own)."""

    def __init__(
        self,
        log_: EventLog,
        conversation_id: str,
        owner: str | None,
        *,
        run_id: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.log = log_
        self._sleep = sleep
        self.conversation_id = conversation_id
        self.owner = owner
        self.run_id = run_id
        self.listeners: list[Callable[[Record], None]] = []
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._next: int | None = None
        self._text: TextDelta | None = None
        self._text_since = 0.0

    def emit(self, event: RunEvent) -> None:
        with self._lock:
            if isinstance(event, TextDelta):
                if self._text is not None and self._text.step == event.step:
                    self._text = TextDelta(event.step, self._text.delta + event.delta)
                else:
                    self._flush_text()
                    self._text, self._text_since = event, self._monotonic()
                if (
                    len(self._text.delta) >= FLUSH_CHARS
                    or self._monotonic() - self._text_since >= FLUSH_S
                ):
                    self._flush_text()
                return
            self._flush_text()
            self._append(event.as_dict())

    def flush(self) -> None:
        with self._lock:
            self._flush_text()

    def _flush_text(self) -> None:
        if self._text is not None:
            text, self._text = self._text, None
            self._append(text.as_dict())

    def _append(self, record: Record) -> None:
        if self.run_id is not None:
            record = {**record, "run_id": self.run_id}
        for attempt in range(PUT_ATTEMPTS):
            if self._next is None:
                self._next = self.log.last_seq(self.conversation_id) + 1
            seq = self._next
            if self.log.put(self.conversation_id, seq, record, self.owner):
                self._next = seq + 1
                stored = {**record, "seq": seq}
                for listener in self.listeners:
                    try:
                        listener(stored)
                    except Exception:  # a gone socket never stops the log
                        log.warning("run event listener failed", exc_info=True)
                return
            self._next = None  # another writer took it: read the newest number again
            self._sleep(random.uniform(0, CONFLICT_WAIT_S * 2 ** min(attempt, 4)))
        log.warning(
            "run event not logged: its sequence numbers kept being taken",
            extra={"conversation_id": self.conversation_id, "type": record.get("type")},
        )
