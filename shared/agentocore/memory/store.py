"""DynamoDB conversation memory: one table, meta/turn/summary items, windowed reads.

Costs per agent turn: load = GetItem(META) + one Query for the window (a new conversation skips
the Query); save = one TransactWriteItems (turn Puts plus the META update guarded by
``turn_count = :expected`` with atomic ``ADD`` of usage and cost, plus one outbox item when the
run requested actions: :mod:`agentocore.events.outbox`, plus the request's receipt when it has
an id: :mod:`agentocore.memory.receipts`).

Expiry. META's ``ttl`` is ``ttl_days`` after the last save: a conversation expires as a whole
once idle that long. Turn items are written with ``2 * ttl_days + 1 day`` and never expire
before the META that counts them while the conversation is active: :meth:`load` re-reads the
turns the window needs anyway, and gives those whose ``ttl`` is less than ``ttl_days + 1 day``
away ``2 * ttl_days + 1 day`` again (one conditional UpdateItem each). So a turn is rewritten at
most once per ``ttl_days``, the writes per load are bounded by the turns it loaded
(``window_messages`` + :data:`MAX_WINDOW_EXTENSION`), and a save writes nothing extra.
Summarized turns (and those older than the window) keep the ``ttl`` they have: the summary on
META stands for them. Turns outlive an expired META by at most ``ttl_days + 1 day``; nothing
reads them (reads stop at META's ``turn_count``) and a new conversation with the same id
overwrites them (turn Puts need no condition of their own: only a save that moves META's
``turn_count`` past them writes turns, so an existing turn above it is such a leftover).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from agentocore import ddb
from agentocore.budget import tokens
from agentocore.budget.guard import Spent
from agentocore.budget.usage import Usage
from agentocore.events import outbox
from agentocore.events.actions import ActionRequest
from agentocore.memory import codec
from agentocore.memory.receipts import Receipt, receipt_sk
from agentocore.memory.window import StoredTurn, is_user_text, repair
from agentocore.types import Message

log = logging.getLogger(__name__)

META = "META"
USER_INDEX = "UserIdIndex"
MAX_TRANSACTION_ITEMS = 100
#: Turns read backwards at most, beyond ``window_messages``, to find the user text turn that
#: starts the newest exchange (the longest run saves 98 messages; its continuation more).
MAX_WINDOW_EXTENSION = 2 * MAX_TRANSACTION_ITEMS
#: DynamoDB's item size limit.
MAX_ITEM_BYTES = 400 * 1024
#: Room kept in a save's transaction for the META item (counters, summary, ``running_*``).
META_RESERVE_BYTES = 64_000
#: A turn whose ``ttl`` is less than ``ttl_days`` + this away is refreshed by the next load.
TTL_MARGIN_S = 86_400


def conv_pk(conversation_id: str) -> str:
    return f"CONV#{conversation_id}"


def turn_sk(number: int) -> str:
    return f"TURN#{number:09d}"


def summary_sk(upto: int) -> str:
    return f"SUMMARY#{upto:09d}"


class MemoryStoreError(Exception):
    """Base class of memory errors."""


class ConversationNotFound(MemoryStoreError):
    """No such conversation for this user (also raised for another user's conversation)."""


class TurnConflict(MemoryStoreError):
    """Another writer saved turns first; reload and retry."""


@dataclass(frozen=True)
class Continuation:
    """A deferred run's pending continuation, kept on META (``running_*`` attributes) from the
    deferred save until the continuation's save. While it is set the stored history ends with
    a user toolResult message and no other run may append."""

    invocation_id: str
    agent_id: str = "default"
    priority: str = "normal"
    iterations: int = 0
    since: str | None = None

    def age_s(self, now: float) -> float:
        """Seconds since ``since`` (scheduled, or scheduled again); 0 when unknown."""
        if not self.since:
            return 0.0
        return now - datetime.fromisoformat(self.since).timestamp()


class ConversationBusy(MemoryStoreError):
    """A deferred run's continuation is pending on this conversation: nothing may be appended
    until it finishes (or is scheduled again when stale)."""

    def __init__(self, conversation_id: str, running: Continuation) -> None:
        super().__init__(
            f"conversation {conversation_id} is busy: invocation {running.invocation_id} is "
            "still running"
        )
        self.conversation_id = conversation_id
        self.running = running


@dataclass(frozen=True)
class ConversationMeta:
    """The META item: owner, counters, running usage totals, current summary."""

    conversation_id: str
    exists: bool = False
    user_id: str | None = None
    agent_id: str | None = None
    turn_count: int = 0
    created_at: str | None = None
    updated_at: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    summary: str | None = None
    summary_upto: int = 0
    running: Continuation | None = None

    @property
    def usage(self) -> Usage:
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
        )

    @property
    def spent(self) -> Spent:
        return Spent(tokens=self.usage.total_tokens, usd=self.cost_usd)


@dataclass(frozen=True)
class Window:
    """What the agent sees of a conversation: summary + the newest valid turns."""

    meta: ConversationMeta
    turns: list[StoredTurn]
    requests: int = 0
    #: Turns after the summary that come before the window (windowed out, expired, or no user
    #: text turn to start at): 0 when the window holds all of them; for an empty window, all.
    skipped: int = 0
    #: Turn items whose ``ttl`` this load refreshed.
    refreshed: int = 0

    @property
    def summary(self) -> str | None:
        return self.meta.summary

    @property
    def messages(self) -> list[Message]:
        return [t.message for t in self.turns]

    @property
    def token_estimate(self) -> int:
        summary_tokens = tokens.count_text(self.meta.summary) if self.meta.summary else 0
        return summary_tokens + sum(t.token_estimate for t in self.turns)


_s, _n, _int, _str, _now_iso = ddb.s, ddb.n, ddb.get_int, ddb.get_str, ddb.iso


def _meta_from_item(conversation_id: str, item: dict[str, Any]) -> ConversationMeta:
    return ConversationMeta(
        conversation_id=conversation_id,
        exists=True,
        user_id=_str(item, "user_id"),
        agent_id=_str(item, "agent_id"),
        turn_count=_int(item, "turn_count"),
        created_at=_str(item, "created_at"),
        updated_at=_str(item, "updated_at"),
        input_tokens=_int(item, "input_tokens"),
        output_tokens=_int(item, "output_tokens"),
        cache_read_tokens=_int(item, "cache_read_tokens"),
        cache_write_tokens=_int(item, "cache_write_tokens"),
        cost_usd=ddb.get_float(item, "cost_usd"),
        summary=_str(item, "summary"),
        summary_upto=_int(item, "summary_upto"),
        running=_running_from_item(item),
    )


def _running_from_item(item: dict[str, Any]) -> Continuation | None:
    invocation_id = _str(item, "running_invocation")
    if invocation_id is None:
        return None
    return Continuation(
        invocation_id=invocation_id,
        agent_id=_str(item, "running_agent_id") or "default",
        priority=_str(item, "running_priority") or "normal",
        iterations=_int(item, "running_iterations"),
        since=_str(item, "running_since"),
    )


#: META attributes of a pending continuation (removed together by the continuation's save).
_RUNNING_ATTRS = (
    "running_invocation, running_since, running_agent_id, running_priority, running_iterations"
)


#: ``ADD`` clause for usage totals; values from :func:`_usage_values`.
_ADD_USAGE = (
    "input_tokens :i, output_tokens :o, cache_read_tokens :cr, cache_write_tokens :cw, cost_usd :c"
)


def _usage_values(usage: Usage | None, cost_usd: float) -> dict[str, Any]:
    u = usage or Usage()
    return {
        ":i": _n(u.input_tokens),
        ":o": _n(u.output_tokens),
        ":cr": _n(u.cache_read_tokens),
        ":cw": _n(u.cache_write_tokens),
        ":c": _n(float(cost_usd)),
    }


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it (attribute names + values; numbers at most as long
    as their text): the bound for the item and transaction limits."""
    return sum(len(name.encode("utf-8")) + _value_bytes(v) for name, v in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    [(kind, v)] = value.items()
    if kind in ("S", "N"):
        return len(str(v).encode("utf-8"))
    if kind == "B":
        return len(v)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + _value_bytes(x) for k, x in v.items())
    if kind in ("SS", "NS"):
        return sum(len(str(x).encode("utf-8")) for x in v)
    if kind == "BS":
        return sum(len(x) for x in v)
    return 1  # BOOL, NULL


class ConversationMemory(ddb.TableStore):
    """Conversation storage in the single table (low-level client, built on first use)."""

    def __init__(self, table_name: str, *, window_messages: int = 60, **kwargs: Any) -> None:
        super().__init__(table_name, **kwargs)
        self.window_messages = window_messages

    # ---- reads -------------------------------------------------------------------------------

    def get_meta(self, conversation_id: str) -> ConversationMeta:
        """The META item (strongly consistent); ``exists=False`` for a new conversation."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"PK": _s(conv_pk(conversation_id)), "SK": _s(META)},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return ConversationMeta(conversation_id)
        return _meta_from_item(conversation_id, item)

    def get_receipt(self, conversation_id: str, request_id: str) -> Receipt | None:
        """The receipt of the request ``request_id`` if its exchange is stored (consistent)."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"PK": _s(conv_pk(conversation_id)), "SK": _s(receipt_sk(request_id))},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        receipt = Receipt.from_item(item)
        # a hash collision of two request ids is not a receipt of this one
        return receipt if receipt.request_id == request_id else None

    def load(
        self, conversation_id: str, *, user_id: str | None = None, open_turn: bool = False
    ) -> Window:
        """The window for the next run: META plus ONE Query for the newest unsummarized turns
        (``ScanIndexForward=False``, ``Limit``), repaired to satisfy the window invariants.
        ``open_turn``: keep a trailing user toolResult message (a continuation's window).

        When those turns make no window (no user text turn with a reply among them: one run
        longer than the window), one more Query reads back, at most
        :data:`MAX_WINDOW_EXTENSION` turns, to the user text turn that starts the exchange.
        When there is none (expired, or never stored), the window is empty and says so:
        ``skipped`` counts the turns left out and the summary stays. Loaded turns close to
        expiry get their ``ttl`` refreshed (see the module docstring)."""
        meta = self.get_meta(conversation_id)
        self._check_owner(meta, user_id)
        after, upto = meta.summary_upto, meta.turn_count
        if upto <= after:
            return Window(meta, [], requests=1)
        items, requests = self._query_back(conversation_id, after, upto, self.window_messages)
        turns = [self._turn(item) for item in reversed(items)]
        window = repair(turns, open_turn=open_turn)
        if not window and len(items) >= self.window_messages and turns[0].number > after + 1:
            older, more = self._query_back(
                conversation_id, after, turns[0].number - 1, MAX_WINDOW_EXTENSION
            )
            requests += more
            earlier = [self._turn(item) for item in reversed(older)]
            starts = [i for i, t in enumerate(earlier) if is_user_text(t)]
            for i in reversed(starts):  # the newest start that makes a window
                window = repair(earlier[i:] + turns, open_turn=open_turn)
                if window:
                    turns = earlier[i:] + turns
                    items = items + older[: len(earlier) - i]
                    break
        start = next((t.number for t in turns if is_user_text(t)), None)
        skipped = start - 1 - after if window and start is not None else upto - after
        if not window:
            log.warning(
                "no valid window: no user text turn with a reply after the summary",
                extra={"conversation_id": conversation_id, "skipped": skipped},
            )
        refreshed = self._refresh_ttl(items)
        return Window(meta, window, 1 + requests, skipped, refreshed)

    def _query_back(
        self, conversation_id: str, after: int, upto: int, limit: int
    ) -> tuple[list[Any], int]:
        """Up to ``limit`` turn items numbered ``after+1..upto``, newest first; the requests."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": _s(conv_pk(conversation_id)),
                ":lo": _s(turn_sk(after + 1)),
                ":hi": _s(turn_sk(upto)),
            },
            "ScanIndexForward": False,
            "Limit": limit,
            "ConsistentRead": True,
        }
        items: list[Any] = []
        requests = 0
        while True:  # a second page only when 1 MB of large items cut the first one short
            page = self.client.query(**kwargs)
            requests += 1
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last or len(items) >= limit:
                return items[:limit], requests
            kwargs["ExclusiveStartKey"] = last
            kwargs["Limit"] = limit - len(items)

    def turn_expires(self, now: float) -> dict[str, str]:
        """The ``ttl`` of a turn written or refreshed at ``now``."""
        return _n(int(now) + 2 * self.ttl_days * 86400 + TTL_MARGIN_S)

    def _refresh_ttl(self, items: Sequence[dict[str, Any]]) -> int:
        """Give loaded turns that would expire within ``ttl_days`` + a day a new ``ttl``
        (conditional on the item still existing); the number refreshed. A failure is logged:
        the next load tries again."""
        now = self._clock()
        due = int(now) + self.ttl_days * 86400 + TTL_MARGIN_S
        stale = [i for i in items if "ttl" in i and _int(i, "ttl") < due]
        ttl = self.turn_expires(now)
        done = 0
        for item in stale:
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key={"PK": item["PK"], "SK": item["SK"]},
                    UpdateExpression="SET #ttl = :ttl",
                    ConditionExpression="attribute_exists(PK) AND #ttl < :ttl",
                    ExpressionAttributeNames={"#ttl": "ttl"},
                    ExpressionAttributeValues={":ttl": ttl},
                )
                done += 1
            except self.client.exceptions.ConditionalCheckFailedException:
                continue  # expired and deleted meanwhile, or refreshed by another load
            except Exception:  # throttled, timed out: best effort, never fails the load
                log.warning("turn ttl refresh failed; the next load retries", exc_info=True)
                break
        return done

    @staticmethod
    def _turn(item: dict[str, Any]) -> StoredTurn:
        return StoredTurn(
            number=_int(item, "turn"),
            role=str(item["role"]["S"]),
            content=codec.loads(item["content"]["S"]),
            token_estimate=_int(item, "token_estimate"),
        )

    def history(
        self,
        conversation_id: str,
        *,
        user_id: str | None = None,
        limit: int = 100,
        after_turn: int = 0,
    ) -> tuple[ConversationMeta, list[StoredTurn], int | None]:
        """Turns oldest first, paginated by turn number (API reads); the next ``after_turn``.
        Only turns META counts (up to ``turn_count``)."""
        meta = self.get_meta(conversation_id)
        self._check_owner(meta, user_id)
        if meta.turn_count <= after_turn:  # nothing counted (turns above it are leftovers)
            return meta, [], None
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": _s(conv_pk(conversation_id)),
                ":lo": _s(turn_sk(after_turn + 1)),
                ":hi": _s(turn_sk(meta.turn_count)),
            },
            ScanIndexForward=True,
            Limit=limit,
        )
        turns = [self._turn(i) for i in page.get("Items", [])]
        more = bool(page.get("LastEvaluatedKey")) and turns
        return meta, turns, (turns[-1].number if more else None)

    def list_conversations(
        self, user_id: str, *, limit: int = 20, start_key: dict[str, Any] | None = None
    ) -> tuple[list[ConversationMeta], dict[str, Any] | None]:
        """The user's conversations, most recently updated first (GSI ``UserIdIndex``)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "user_id = :u",
            "ExpressionAttributeValues": {":u": _s(user_id)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        page = self.client.query(**kwargs)
        metas = [
            _meta_from_item(str(item["PK"]["S"]).removeprefix("CONV#"), item)
            for item in page.get("Items", [])
        ]
        return metas, page.get("LastEvaluatedKey")

    @staticmethod
    def _check_owner(meta: ConversationMeta, user_id: str | None) -> None:
        """A user sees only their own conversations; one without an owner is nobody's."""
        if meta.exists and user_id is not None and meta.user_id != user_id:
            raise ConversationNotFound(meta.conversation_id)

    # ---- writes ------------------------------------------------------------------------------

    def append(
        self,
        conversation_id: str,
        new_messages: Sequence[Message],
        *,
        expected_turn_count: int,
        user_id: str | None = None,
        agent_id: str | None = None,
        usage: Usage | None = None,
        cost_usd: float = 0.0,
        model_id: str | None = None,
        start_running: Continuation | None = None,
        finish_running: str | None = None,
        actions: Sequence[ActionRequest] = (),
        receipt: Receipt | None = None,
    ) -> int:
        """Store ``new_messages`` as turns ``expected+1..`` and add usage to the totals, in one
        transaction. ``receipt`` (the request's, :mod:`agentocore.memory.receipts`) is written
        by the same transaction, with this save's turn numbers; an existing one (another
        delivery of the request saved first) is a :class:`TurnConflict`. Raises
        :class:`TurnConflict` if anyone else wrote first (nothing written),
        :class:`ConversationNotFound` if the conversation belongs to another user.

        Requires that no continuation is pending, unless ``finish_running`` is the pending one's
        invocation id (then it is cleared in the same transaction); ``start_running`` marks a
        deferred run's continuation as pending (``since`` = now).

        ``actions`` (the run's action requests) go into one outbox item in the same
        transaction; the outbox relay publishes them once it is committed.

        Sizes never fail a save: :func:`codec.fit_all` cuts the largest contents (visible
        marker, toolUse/toolResult ids kept) until each item is under 400 KB and all items
        with the outbox item and a reserve for META under the transaction's 4 MB. The number
        of messages is bounded by ``MAX_ITERATIONS_LIMIT``: 96, with META, the outbox item and the
        receipt 99 (the transaction's limit is 100)."""
        count = len(new_messages)
        # META (+ the outbox item) (+ the receipt)
        limit = MAX_TRANSACTION_ITEMS - 1 - (1 if actions else 0) - (1 if receipt else 0)
        if not 0 < count <= limit:
            raise ValueError(f"can append 1..{limit} messages, got {count}")
        now = self._clock()
        now_iso = _now_iso(now)
        ttl = self.expires(now)
        writes: list[dict[str, Any]] = []
        budget = codec.MAX_TRANSACTION_BYTES - META_RESERVE_BYTES
        if receipt is not None:
            saved = replace(
                receipt,
                first_turn=expected_turn_count + 1,
                turn_count=expected_turn_count + count,
            )
            item = saved.item(conv_pk(conversation_id), now_iso=now_iso, ttl=ttl)
            writes.append(saved.put(self.table_name, item))
            budget -= item_bytes(item)
        if actions:
            entries = outbox.entries_json(actions)
            box = outbox.outbox_item(
                conversation_id,
                expected_turn_count + 1,
                actions,
                now_iso=now_iso,
                ttl=ttl,
                entries=entries,
            )
            writes.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": box,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
            budget -= item_bytes(box)
        pk = _s(conv_pk(conversation_id))
        items = []
        for offset, message in enumerate(new_messages, start=1):
            number = expected_turn_count + offset
            item = {
                "PK": pk,
                "SK": _s(turn_sk(number)),
                "turn": _n(number),
                "role": _s(str(message["role"])),
                "content": _s(""),
                "token_estimate": _n(10**12),  # room for the real estimate's digits
                "created_at": _s(now_iso),
                "ttl": self.turn_expires(now),
            }
            if model_id and message["role"] == "assistant":
                item["model_id"] = _s(model_id)
            items.append(item)
        overheads = [item_bytes(item) for item in items]
        contents = codec.fit_all(
            [message["content"] for message in new_messages],
            max_item=min(codec.MAX_ITEM_CONTENT_BYTES, MAX_ITEM_BYTES - max(overheads)),
            max_total=budget - sum(overheads),
        )
        for item, content in zip(items, contents, strict=True):
            item["content"] = _s(codec.dumps(content))
            item["token_estimate"] = _n(tokens.count_message({"content": content}))
            # no condition: META's turn_count guard orders writers; an existing item with this
            # key is a leftover of an expired conversation with the same id (overwritten)
            writes.append({"Put": {"TableName": self.table_name, "Item": item}})
        values: dict[str, Any] = {
            ":cid": _s(conversation_id),
            ":now": _s(now_iso),
            ":ttl": ttl,
            ":n": _n(count),
            ":one": _n(1),
            **_usage_values(usage, cost_usd),
        }
        sets = [
            "conversation_id = :cid",
            "created_at = if_not_exists(created_at, :now)",
            "updated_at = :now",
            "#ttl = :ttl",
        ]
        if user_id is not None:
            values[":uid"] = _s(user_id)
            sets.append("user_id = if_not_exists(user_id, :uid)")
        if agent_id is not None:
            values[":aid"] = _s(agent_id)
            sets.append("agent_id = if_not_exists(agent_id, :aid)")
        if expected_turn_count == 0:
            condition = "attribute_not_exists(turn_count) OR turn_count = :zero"
            values[":zero"] = _n(0)
        else:
            condition = "turn_count = :expected"
            values[":expected"] = _n(expected_turn_count)
        if user_id is not None and expected_turn_count == 0:
            condition = f"({condition}) AND (attribute_not_exists(user_id) OR user_id = :uid)"
        elif user_id is not None:  # an existing conversation: its owner's, never claimable
            condition = f"({condition}) AND user_id = :uid"
        remove = ""
        if finish_running is not None:
            condition = f"({condition}) AND running_invocation = :rinv"
            values[":rinv"] = _s(finish_running)
            remove = f" REMOVE {_RUNNING_ATTRS}"
        else:
            condition = f"({condition}) AND attribute_not_exists(running_invocation)"
        if start_running is not None:
            if finish_running is not None:
                raise ValueError("start_running and finish_running exclude each other")
            sets += [
                "running_invocation = :rinv",
                "running_since = :now",
                "running_agent_id = :ragent",
                "running_priority = :rprio",
                "running_iterations = :riter",
            ]
            values.update(
                {
                    ":rinv": _s(start_running.invocation_id),
                    ":ragent": _s(start_running.agent_id),
                    ":rprio": _s(start_running.priority),
                    ":riter": _n(start_running.iterations),
                }
            )
        writes.append(
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"PK": pk, "SK": _s(META)},
                    "UpdateExpression": "SET "
                    + ", ".join(sets)
                    + remove
                    + f" ADD turn_count :n, run_count :one, {_ADD_USAGE}",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#ttl": "ttl"},
                    "ExpressionAttributeValues": values,
                }
            }
        )
        self._transact(writes, conversation_id, user_id)
        return expected_turn_count + count

    def reschedule_running(self, conversation_id: str, running: Continuation) -> str | None:
        """Restart a pending continuation's clock (``running_since`` = now) if it is still the
        one given, with the ``since`` given; the new ``since``, or None when another request
        won (or the continuation finished). Only the winner schedules it again."""
        now_iso = _now_iso(self._clock())
        values = {":inv": _s(running.invocation_id), ":now": _s(now_iso)}
        condition = "running_invocation = :inv"
        if running.since is not None:
            condition += " AND running_since = :since"
            values[":since"] = _s(running.since)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"PK": _s(conv_pk(conversation_id)), "SK": _s(META)},
                UpdateExpression="SET running_since = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return now_iso

    def clear_running(self, conversation_id: str, invocation_id: str) -> bool:
        """Remove the pending continuation ``invocation_id`` without appending turns (its
        history already ends with an assistant message); False if it is not pending."""
        now = self._clock()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"PK": _s(conv_pk(conversation_id)), "SK": _s(META)},
                UpdateExpression=f"SET updated_at = :now REMOVE {_RUNNING_ATTRS}",
                ConditionExpression="running_invocation = :inv",
                ExpressionAttributeValues={
                    ":inv": _s(invocation_id),
                    ":now": _s(_now_iso(now)),
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def save_summary(
        self,
        conversation_id: str,
        summary: str,
        *,
        upto: int,
        usage: Usage | None = None,
        cost_usd: float = 0.0,
    ) -> bool:
        """Store a SUMMARY item covering turns ``1..upto`` and make it current on META (only if
        it is newer than the current one). Returns False when a newer summary already won."""
        now = self._clock()
        pk = _s(conv_pk(conversation_id))
        actions = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        "PK": pk,
                        "SK": _s(summary_sk(upto)),
                        "summary": _s(summary),
                        "upto": _n(upto),
                        "created_at": _s(_now_iso(now)),
                        "ttl": self.expires(now),
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"PK": pk, "SK": _s(META)},
                    "UpdateExpression": f"SET summary = :s, summary_upto = :u ADD {_ADD_USAGE}",
                    "ConditionExpression": "attribute_exists(PK) AND turn_count >= :u AND"
                    " (attribute_not_exists(summary_upto) OR summary_upto < :u)",
                    "ExpressionAttributeValues": {
                        ":s": _s(summary),
                        ":u": _n(upto),
                        **_usage_values(usage, cost_usd),
                    },
                }
            },
        ]
        try:
            self._transact(actions, conversation_id, None)
        except TurnConflict:
            return False
        return True

    def _transact(
        self, actions: list[dict[str, Any]], conversation_id: str, user_id: str | None
    ) -> None:
        client = self.client
        try:
            client.transact_write_items(TransactItems=actions)
        except client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            codes = {r.get("Code") for r in reasons}
            if codes & {"ConditionalCheckFailed", "TransactionConflict"}:
                if user_id is not None:
                    self._check_owner(self.get_meta(conversation_id), user_id)
                raise TurnConflict(conversation_id) from exc
            raise
