"""The resumable event log: a conversation's run events in the single table, numbered.

Every event gets a number (``seq``, from 1 per conversation, without gaps). Events are written
in batches: one item per batch, ``PK=CONV#<conversation id>``, ``SK=EVT#<its last seq, 12
digits>`` (the conversation's own partition: its IAM scope, its pace; beside its turns, whose
Queries read ``TURN#`` ranges only), and the head ``SK=EVT#HEAD`` holding the last number
written; both expire after ``ttl_hours``. A batch is one TransactWriteItems: the head moves from
``n`` to ``n + k`` (conditional on it still being ``n``) and the batch item with numbers
``n+1..n+k`` is put. So numbers are taken exactly once even with two writers (a worker telling
of an approval while a run writes: the loser reads the head again and retries after a jittered
wait), and they become visible in order: a reader never sees ``n + 1`` while ``n`` is still to
come, which is what makes ``after`` safe. A client that saw up to ``seq`` asks for what came
after it and drops anything it already has: nothing lost, nothing shown twice.

A writer batches what a run emits until :data:`FLUSH_S` seconds have passed since the oldest
event it holds or :data:`FLUSH_BYTES` are held; the rest, ``result`` included, is written by
the caller's :meth:`EventLogWriter.flush` once the turn is saved (or dropped with
:meth:`EventLogWriter.discard` when it was not): a quick run costs one read of the head and one
transaction; text deltas of one model call are merged. ``listeners``
get each record once it is stored (with its ``seq``): that is what a live socket is sent.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from agentocore.ddb import TableStore, get_int, is_condition_failure, n, s
from agentocore.memory.store import conv_pk
from agentocore.stream.events import RunEvent

log = logging.getLogger(__name__)

PREFIX = "EVT#"
HEAD = "EVT#HEAD"  # sorts after every EVT#<digits>: never read as a batch
FLUSH_S = 0.5
FLUSH_BYTES = 64 * 1024
#: Transactions a writer tries before giving a batch up (logged); after a lost race it waits
#: a little (jittered, growing) so that the writer that just won does not win every time.
WRITE_ATTEMPTS = 32
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
        on_stored: Callable[[str, str | None, list[Record]], None] | None = None,
    ) -> None:
        super().__init__(table_name, client=client, clock=clock)
        self.ttl_hours = ttl_hours
        #: Told of every batch once stored: ``(conversation id, owner, records with seq)``
        #: (the live push to subscribed sockets, :mod:`agentocore.stream.push`). Its failures
        #: are logged, never raised.
        self.on_stored = on_stored
        #: ``flush_s`` of a run someone watches live (:meth:`writer` ``live=True``)
        self.live_flush_s = 0.1

    def writer(
        self,
        conversation_id: str,
        *,
        owner: str | None,
        run_id: str | None = None,
        held: bool = False,
        live: bool = False,
        flush_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> EventLogWriter:
        """A writer for one run of ``owner``'s conversation (the owner is stored with each
        batch: a conversation's first run is logged before its META exists). ``held``: write
        nothing until :meth:`EventLogWriter.persist` (a synchronous HTTP run whose answer
        carries the result: its events are logged only if it is deferred). ``flush_s``: how
        long an event may wait for its batch (default :data:`FLUSH_S`; ``live``, a run someone
        watches over a socket: :attr:`live_flush_s`)."""
        if flush_s is None:
            flush_s = min(FLUSH_S, self.live_flush_s) if live else FLUSH_S
        return EventLogWriter(
            self,
            conversation_id,
            owner,
            run_id=run_id,
            held=held,
            flush_s=flush_s,
            monotonic=monotonic,
            sleep=sleep,
        )

    def append_now(self, conversation_id: str, owner: str | None, records: list[Record]) -> None:
        """Log ``records`` at once (not a run's: e.g. an action's status told by its worker)."""
        writer = self.writer(conversation_id, owner=owner, flush_s=float("inf"))
        for record in records:
            writer.emit_record(record)
        writer.flush()

    def last_seq(self, conversation_id: str) -> int:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"PK": s(conv_pk(conversation_id)), "SK": s(HEAD)},
            ConsistentRead=True,
        ).get("Item")
        return get_int(item, "last") if item else 0

    def read(
        self, conversation_id: str, after: int = 0, limit: int = 200
    ) -> list[tuple[str | None, Record]]:
        """Up to ``limit`` ``(owner, record)`` with ``seq > after``, oldest first."""
        out: list[tuple[str | None, Record]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": s(conv_pk(conversation_id)),
                ":lo": s(event_sk(after + 1)),  # batches are keyed by their last number
                ":hi": s(event_sk(10**12 - 1)),
            },
            "ScanIndexForward": True,
            "ConsistentRead": True,
            "Limit": min(limit, 100),
        }
        while len(out) < limit:
            page = self.client.query(**kwargs)
            for item in page.get("Items") or []:
                owner = item["owner"]["S"] if "owner" in item else None
                seq = get_int(item, "first")
                for record in json.loads(item["events"]["S"]):
                    if seq > after and len(out) < limit:
                        out.append((owner, {**record, "seq": seq}))
                    seq += 1
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def append(
        self, conversation_id: str, head: int, records: list[Record], owner: str | None
    ) -> bool:
        """Store ``records`` as numbers ``head+1..`` if the head is still ``head``; False when
        another writer moved it."""
        last = head + len(records)
        ttl = n(int(self._clock()) + self.ttl_hours * 3600)
        pk = s(conv_pk(conversation_id))
        batch: dict[str, Any] = {
            "PK": pk,
            "SK": s(event_sk(last)),
            "first": n(head + 1),
            "events": s(json.dumps(records, separators=(",", ":"), default=str)),
            "ttl": ttl,
        }
        if owner:
            batch["owner"] = s(owner)
        moved = "attribute_not_exists(#last)" if head == 0 else "#last = :head"
        values: dict[str, Any] = {":last": n(last), ":ttl": ttl}
        if head:
            values[":head"] = n(head)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"PK": pk, "SK": s(HEAD)},
                            "UpdateExpression": "SET #last = :last, #ttl = :ttl",
                            "ConditionExpression": moved,
                            "ExpressionAttributeNames": {"#last": "last", "#ttl": "ttl"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": batch,
                            "ConditionExpression": "attribute_not_exists(SK)",
                        }
                    },
                ]
            )
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True


class EventLogWriter:
    """An :class:`~agentocore.stream.events.EventSink` that appends to one conversation's log
    (thread-safe: tools run on threads; the loop emits from its own). What it holds is written
    when :attr:`flush_s` has passed since the oldest held event (by the next event, or by a
    timer when none comes: a model that pauses mid-reply still reaches a live client), when
    :data:`FLUSH_BYTES` are held, or by :meth:`flush`. A ``result`` is only ever written by
    :meth:`flush`/:meth:`persist`: the caller's, once the turn is saved."""

    def __init__(
        self,
        log_: EventLog,
        conversation_id: str,
        owner: str | None,
        *,
        run_id: str | None = None,
        held: bool = False,
        flush_s: float = FLUSH_S,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.log = log_
        self.held = held
        self.flush_s = flush_s
        self.conversation_id = conversation_id
        self.owner = owner
        self.run_id = run_id
        self.listeners: list[Callable[[Record], None]] = []
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._head: int | None = None
        self._held: list[Record] = []
        self._held_bytes = 0
        self._held_since = 0.0
        self._timer: threading.Timer | None = None

    def emit(self, event: RunEvent) -> None:
        record = event.as_dict()
        if self.run_id is not None:
            record["run_id"] = self.run_id
        self.emit_record(record)

    def emit_record(self, record: Record) -> None:
        with self._lock:
            last = self._held[-1] if self._held else None
            if (
                record["type"] == "text"
                and last is not None
                and last["type"] == "text"
                and last["step"] == record["step"]
            ):
                last["delta"] += record["delta"]  # one model call's text, merged
            else:
                if not self._held:
                    self._held_since = self._monotonic()
                self._held.append(record)
            # an estimate (text dominates; each record's fields take a few hundred bytes)
            self._held_bytes += 200 + len(str(record.get("delta") or record.get("text") or ""))
            if self.held or record["type"] == "result":
                return
            if (
                self._held_bytes >= FLUSH_BYTES
                or self._monotonic() - self._held_since >= self.flush_s
            ):
                self._flush(final=False)
            elif self._timer is None and self.flush_s != float("inf"):
                self._timer = threading.Timer(self.flush_s, self._timed_flush)
                self._timer.daemon = True
                self._timer.start()

    def _timed_flush(self) -> None:
        with self._lock:
            self._timer = None
            if not self.held:
                try:
                    self._flush(final=False)
                except Exception:  # the next flush (the caller's) tries again
                    log.warning("run events not flushed", exc_info=True)

    def flush(self) -> None:
        """Write what is held (nothing while ``held``)."""
        with self._lock:
            if not self.held:
                self._flush()

    def persist(self) -> None:
        """From now on write as events come; what was held is written now."""
        with self._lock:
            self.held = False
            self._flush()

    def note_result(self, **fields: Any) -> None:
        """Add ``fields`` to the held ``result`` (the saved exchange's ``turn``: known only
        once the turn is saved, which is when the result is written)."""
        with self._lock:
            for record in reversed(self._held):
                if record["type"] == "result":
                    record.update(fields)
                    return

    def discard(self) -> None:
        """Forget what is held (the run's answer carried it)."""
        with self._lock:
            self._held, self._held_bytes = [], 0
            self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush(self, final: bool = True) -> None:
        """Write what is held; unless ``final``, a held ``result`` stays held."""
        self._cancel_timer()
        keep = (
            [] if final or not self._held or self._held[-1]["type"] != "result" else self._held[-1:]
        )
        records = self._held[: len(self._held) - len(keep)]
        self._held = keep
        self._held_bytes = 200 * len(keep)
        if not records:
            return
        for attempt in range(WRITE_ATTEMPTS):
            if self._head is None:
                self._head = self.log.last_seq(self.conversation_id)
            head = self._head
            if self.log.append(self.conversation_id, head, records[:], self.owner):
                self._head = head + len(records)
                self._notify(head, records)
                return
            self._head = None  # another writer moved the head: read it again
            self._sleep(self._rng.uniform(0, CONFLICT_WAIT_S * 2 ** min(attempt, 4)))
        log.warning(
            "run events not logged: the conversation's log head kept moving",
            extra={"conversation_id": self.conversation_id, "events": len(records)},
        )

    def _notify(self, head: int, records: list[Record]) -> None:
        stored = [{**record, "seq": i} for i, record in enumerate(records, start=head + 1)]
        if self.log.on_stored is not None:
            try:
                self.log.on_stored(self.conversation_id, self.owner, stored)
            except Exception:  # a gone socket never stops the log
                log.warning("run events not pushed", exc_info=True)
        for record in stored:
            for listener in self.listeners:
                try:
                    listener(record)
                except Exception:
                    log.warning("run event listener failed", exc_info=True)
