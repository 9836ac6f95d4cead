"""Daily budgets per user and per tenant (the deployment): one item per scope and UTC day,
reserved before each model call and settled after it, with atomic ADDs.

Items (``SK=META``): ``PK=BUDGET#user#<user id>#<yyyy-mm-dd>`` and
``BUDGET#tenant#<yyyy-mm-dd>`` (the ``BUDGET#`` prefix lets IAM scope them with
``dynamodb:LeadingKeys``). ``tokens`` / ``usd_nanos`` (integer nano-USD: exact sums) hold what
was spent plus the reservations still outstanding, and are what a limit is checked against;
``spent_*``, ``reserved_*`` and ``reservations`` say which is which.

A reservation is admitted only if ``tokens + estimate <= limit`` for every limited scope of the
run. DynamoDB conditions cannot add, so the condition compares the stored sum with
``limit - estimate``. Reservations and settlements are each ONE TransactWriteItems over the
run's scopes: all or nothing, and retry-safe (botocore resends the same ClientRequestToken).
Concurrent runs therefore never admit more than the limit's worth of estimates; what they spend
beyond it is only the estimates' error. A run that dies between reserve and settle leaves its
estimate reserved until the day ends (the next day is a new item; the old one expires by TTL).

The tenant item takes every model call of the deployment (a reservation and a settlement each):
one DynamoDB partition holds ~1,000 writes/s, so past a few hundred model calls per second it is
split into ``tenant_shards`` items, ``BUDGET#tenant#s<k>#<yyyy-mm-dd>``, each holding an equal
share of the limits. A reservation goes to a shard chosen at random and, when that one has no
room, to up to :data:`TENANT_PROBES` - 1 others; the tenant budget is exhausted when every shard
tried is full. With calls spread at random the shards fill evenly, so by then the tenant has spent
its limit less a few estimates per shard. A call whose estimate exceeds one shard's share is
refused, so keep the share well above one call's cost (``Settings`` checks the token share holds
four calls of ``max_tokens``). One shard (the default) is the single exact item.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from agentocore.budget.guard import BudgetStop
from agentocore.config import Settings
from agentocore.ddb import TableStore, get_int, n, s

log = logging.getLogger(__name__)

PREFIX = "BUDGET#"
SK = "META"
#: Days an item is kept after its own day (then DynamoDB's TTL deletes it).
RETENTION_DAYS = 3
#: Tenant shards a reservation tries before the tenant budget counts as exhausted.
TENANT_PROBES = 4
DailyScope = Literal["user_daily", "tenant_daily"]
_NAMES = {
    "#t": "tokens",
    "#u": "usd_nanos",
    "#st": "spent_tokens",
    "#su": "spent_usd_nanos",
    "#rt": "reserved_tokens",
    "#ru": "reserved_usd_nanos",
    "#r": "reservations",
    "#c": "calls",
    "#ttl": "ttl",
}


class BudgetLedgerError(RuntimeError):
    """The budget items could not be written (after retries): the run must not call the model."""


@dataclass(frozen=True)
class DailyLimits:
    """Per UTC day limits; 0 means unlimited (and that scope's item is never written)."""

    user_tokens: int = 0
    user_usd: float = 0.0
    tenant_tokens: int = 0
    tenant_usd: float = 0.0
    tenant_shards: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> DailyLimits:
        return cls(
            settings.budget_user_daily_tokens,
            settings.budget_user_daily_usd,
            settings.budget_tenant_daily_tokens,
            settings.budget_tenant_daily_usd,
            settings.budget_tenant_shards,
        )

    @property
    def usd_limited(self) -> bool:
        return bool(self.user_usd or self.tenant_usd)


@dataclass(frozen=True)
class Estimate:
    """The most one model call is expected to cost."""

    tokens: int
    usd: float


@dataclass(frozen=True)
class _Item:
    scope: DailyScope
    pk: str
    day: str
    max_tokens: int
    max_usd: float


def nanos(usd: float, *, up: bool = False) -> int:
    """USD as integer nano-USD (estimates round up)."""
    return math.ceil(usd * 1e9) if up else round(usd * 1e9)


def day_of(ts: float) -> str:
    """The UTC day of a Unix time, ``yyyy-mm-dd``."""
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def resets_at(day: str) -> str:
    """When the budget of ``day`` resets: the next UTC midnight (ISO 8601, Z)."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
    return start.isoformat().replace("+00:00", "Z")


def budget_key(
    scope: DailyScope, day: str, user_id: str | None = None, shard: int | None = None
) -> str:
    """The item's partition key. A user id may hold ``#``: the day is always the last part.
    ``shard``: one of the tenant's shards (None: the single tenant item)."""
    if scope == "user_daily":
        return f"{PREFIX}user#{user_id}#{day}"
    if shard is not None:
        return f"{PREFIX}tenant#s{shard}#{day}"
    return f"{PREFIX}tenant#{day}"


class Hold:
    """An admitted reservation: :meth:`settle` it with the real usage, or :meth:`release` it
    when the call failed. Only the first of these does anything."""

    def __init__(self, ledger: DailyBudgets | None, items: tuple[_Item, ...], est: Estimate):
        self._ledger = ledger
        self.items = items
        self.estimate = est
        self._done = threading.Lock()
        self._open = bool(items)

    def _take(self) -> bool:
        with self._done:
            was, self._open = self._open, False
            return was

    def settle(self, tokens: int, usd: float) -> None:
        """Replace the estimate with what the call really cost."""
        if self._ledger is not None and self._take():
            self._ledger.finish(self, tokens, usd, call=True)

    def release(self) -> None:
        """Give the estimate back (the call cost nothing)."""
        if self._ledger is not None and self._take():
            self._ledger.finish(self, 0, 0.0, call=False)


NO_HOLD = Hold(None, (), Estimate(0, 0.0))


def _reasons(exc: BaseException) -> list[dict[str, Any]] | None:
    """A cancelled transaction's reasons (one per item), or None for any other error."""
    response = getattr(exc, "response", None) or {}
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return list(response.get("CancellationReasons") or [])


class DailyBudgets(TableStore):
    """The per user and per tenant daily budgets in the single table (one instance per
    process; thread-safe)."""

    def __init__(
        self,
        table_name: str,
        limits: DailyLimits,
        *,
        client: Any | None = None,
        clock: Callable[[], float] = time.time,
        retention_days: int = RETENTION_DAYS,
        conflict_retries: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(table_name, client=client, ttl_days=retention_days, clock=clock)
        self.limits = limits
        self.conflict_retries = conflict_retries
        self._sleep = sleep

    @property
    def enabled(self) -> bool:
        lim = self.limits
        return bool(lim.user_tokens or lim.user_usd or lim.tenant_tokens or lim.tenant_usd)

    def _user_item(self, user_id: str | None, day: str) -> _Item | None:
        lim = self.limits
        if user_id and (lim.user_tokens or lim.user_usd):
            key = budget_key("user_daily", day, user_id)
            return _Item("user_daily", key, day, lim.user_tokens, lim.user_usd)
        return None

    def _tenant_items(self, day: str, shards: list[int | None]) -> list[_Item]:
        """The tenant's items for ``shards`` (each with its share of the limits)."""
        lim = self.limits
        if not (lim.tenant_tokens or lim.tenant_usd):
            return []
        n = max(1, lim.tenant_shards)
        return [
            _Item(
                "tenant_daily",
                budget_key("tenant_daily", day, shard=shard),
                day,
                lim.tenant_tokens // n if lim.tenant_tokens else 0,
                lim.tenant_usd / n,
            )
            for shard in shards
        ]

    def _tenant_shards(self) -> list[int | None]:
        """The shards a reservation tries, in order (random: load spreads evenly)."""
        n = self.limits.tenant_shards
        if n <= 1:
            return [None]
        return list(random.sample(range(n), min(n, TENANT_PROBES)))

    def reserve(self, user_id: str | None, est: Estimate) -> Hold | BudgetStop:
        """Reserve ``est`` on the user's and the tenant's items of today, or say which budget
        has no room for it (nothing written then). Raises :class:`BudgetLedgerError`."""
        day = day_of(self._clock())
        user = self._user_item(user_id, day)
        tenants: list[_Item | None] = list(self._tenant_items(day, self._tenant_shards())) or [None]
        for tenant in tenants:
            items = tuple(i for i in (user, tenant) if i is not None)
            if not items:
                return NO_HOLD
            for item in items:  # more than the whole day's limit (or share) can never fit
                if (item.max_tokens and est.tokens > item.max_tokens) or (
                    item.max_usd and est.usd > item.max_usd
                ):
                    return _stop(item, None, est, sharded=self._sharded(item))
            try:
                self._transact([self._reservation(item, est) for item in items])
            except BudgetLedgerError as exc:
                reasons = _reasons(exc.__cause__) if exc.__cause__ else None
                full = [
                    (item, reason)
                    for item, reason in zip(items, reasons or [], strict=False)
                    if reason.get("Code") == "ConditionalCheckFailed"
                ]
                if not full:
                    raise
                item, reason = full[0]
                if item.scope == "user_daily" or tenant is tenants[-1]:
                    return _stop(item, reason.get("Item"), est, sharded=self._sharded(item))
                continue  # this tenant shard is full: the next one
            return Hold(self, items, est)
        raise AssertionError("unreachable: the last tenant shard returns")

    def _sharded(self, item: _Item) -> bool:
        return item.scope == "tenant_daily" and self.limits.tenant_shards > 1

    def _reservation(self, item: _Item, est: Estimate) -> dict[str, Any]:
        day_start = datetime.fromisoformat(item.day).replace(tzinfo=UTC).timestamp()
        values = {
            ":t": n(est.tokens),
            ":u": n(nanos(est.usd, up=True)),
            ":one": n(1),
            ":ttl": n(int(day_start) + (1 + self.ttl_days) * 86400),
        }
        conditions = []
        if item.max_tokens:
            conditions.append("(attribute_not_exists(#t) OR #t <= :tmax)")
            values[":tmax"] = n(item.max_tokens - est.tokens)
        if item.max_usd:
            conditions.append("(attribute_not_exists(#u) OR #u <= :umax)")
            values[":umax"] = n(nanos(item.max_usd) - nanos(est.usd, up=True))
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"PK": s(item.pk), "SK": s(SK)},
            "UpdateExpression": "ADD #t :t, #u :u, #rt :t, #ru :u, #r :one "
            "SET #ttl = if_not_exists(#ttl, :ttl)",
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": {
                k: _NAMES[k] for k in ("#t", "#u", "#rt", "#ru", "#r", "#ttl")
            },
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return {"Update": update}

    def finish(self, hold: Hold, tokens: int, usd: float, *, call: bool) -> None:
        """Settle (``call``) or release ``hold``: one transaction over its items. A failure is
        logged, not raised: the estimate then stays counted (the safe side) for the day."""
        est = hold.estimate
        values = {
            ":dt": n(tokens - est.tokens),
            ":du": n(nanos(usd) - nanos(est.usd, up=True)),
            ":st": n(tokens),
            ":su": n(nanos(usd)),
            ":mt": n(-est.tokens),
            ":mu": n(-nanos(est.usd, up=True)),
            ":mone": n(-1),
            ":c": n(1 if call else 0),
        }
        writes = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"PK": s(item.pk), "SK": s(SK)},
                    "UpdateExpression": "ADD #t :dt, #u :du, #st :st, #su :su, #rt :mt, "
                    "#ru :mu, #r :mone, #c :c",
                    "ExpressionAttributeNames": {k: v for k, v in _NAMES.items() if k != "#ttl"},
                    "ExpressionAttributeValues": values,
                }
            }
            for item in hold.items
        ]
        try:
            self._transact(writes)
        except BudgetLedgerError:
            log.exception(
                "settling a budget reservation failed; its estimate stays counted for the day",
                extra={"items": [i.pk for i in hold.items], "settle": call},
            )

    def _transact(self, writes: list[Any]) -> None:
        """One TransactWriteItems, retried (with jitter) while it conflicts with another."""
        for attempt in range(self.conflict_retries + 1):
            try:
                self.client.transact_write_items(TransactItems=writes)
                return
            except Exception as exc:
                reasons = _reasons(exc)
                conflict = reasons is not None and any(
                    r.get("Code") == "TransactionConflict" for r in reasons
                )
                failed = reasons is not None and any(
                    r.get("Code") == "ConditionalCheckFailed" for r in reasons
                )
                if not conflict or failed or attempt == self.conflict_retries:
                    raise BudgetLedgerError(f"budget items not written: {exc}") from exc
                self._sleep(random.uniform(0, 0.02 * 2**attempt))

    def check(self, user_id: str | None) -> BudgetStop | None:
        """Whether a budget of today is already used up (read only; for requests that queue a
        run without calling the model now). A sharded tenant budget counts as used up when
        every shard a reservation would try is full."""
        day = day_of(self._clock())
        user = self._user_item(user_id, day)
        if user is not None:
            got = self._get(user.pk)
            if got is not None and _full(user, got):
                return _stop(user, got, Estimate(0, 0.0))
        tenants = self._tenant_items(day, self._tenant_shards())
        stored = [self._get(item.pk) for item in tenants]
        if tenants and all(
            got is not None and _full(i, got) for i, got in zip(tenants, stored, strict=True)
        ):
            item = tenants[0]
            return _stop(item, stored[0], Estimate(0, 0.0), sharded=self._sharded(item))
        return None

    def _get(self, pk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table_name, Key={"PK": s(pk), "SK": s(SK)}, ConsistentRead=consistent
        ).get("Item")
        return item

    def read(self, scope: DailyScope, day: str, user_id: str | None = None) -> dict[str, float]:
        """The counters of one scope (zeros when nothing was written; nano-USD as USD): a
        sharded tenant budget's summed over its shards."""
        n = self.limits.tenant_shards
        shards: list[int | None] = list(range(n)) if scope == "tenant_daily" and n > 1 else [None]
        stored = [
            self._get(budget_key(scope, day, user_id, shard=shard), consistent=True) or {}
            for shard in shards
        ]
        return {
            name.removesuffix("_nanos"): sum(get_int(got, name) for got in stored)
            / (1e9 if name.endswith("_nanos") else 1)
            for name in _NAMES.values()
            if name != "ttl"
        }


def _full(item: _Item, got: dict[str, Any]) -> bool:
    """No room left in ``item`` (its stored counters ``got``)."""
    return bool(
        (item.max_tokens and get_int(got, "tokens") >= item.max_tokens)
        or (item.max_usd and get_int(got, "usd_nanos") >= nanos(item.max_usd))
    )


def _over(item: _Item, stored: dict[str, Any] | None, est: Estimate) -> str | None:
    """Which limit of ``item`` has no room for ``est`` ("tokens" / "usd"; None: unknown)."""
    tokens = get_int(stored, "tokens") if stored else 0
    usd = get_int(stored, "usd_nanos") if stored else 0
    if item.max_tokens and tokens + est.tokens >= item.max_tokens + (1 if est.tokens else 0):
        return "tokens"
    need = nanos(est.usd, up=True)
    if item.max_usd and usd + need >= nanos(item.max_usd) + (1 if need else 0):
        return "usd"
    return None


def _stop(
    item: _Item, stored: dict[str, Any] | None, est: Estimate, *, sharded: bool = False
) -> BudgetStop:
    """The budget-exceeded answer for ``item`` (its stored counters when known; a shard's
    counters are not the tenant's, so a sharded tenant budget names none)."""
    who = "user" if item.scope == "user_daily" else "tenant"
    need = f" (this call may need {est.tokens} tokens / ${est.usd:.6f})" if est.tokens else ""
    if sharded:
        message = f"{who} daily budget exhausted (every shard tried is full){need}"
        return BudgetStop(budget=item.scope, message=message, resets_at=resets_at(item.day))
    over = _over(item, stored, est)
    if over == "tokens":
        used = f"{get_int(stored, 'tokens')} of " if stored else ""
        message = f"{who} daily token budget exhausted: {used}{item.max_tokens} tokens used{need}"
    elif over == "usd":
        used = f"${get_int(stored, 'usd_nanos') / 1e9:.6f} of " if stored else ""
        message = f"{who} daily cost budget exhausted: {used}${item.max_usd:.2f} used{need}"
    else:
        message = f"{who} daily budget exhausted{need}"
    return BudgetStop(budget=item.scope, message=message, resets_at=resets_at(item.day))
