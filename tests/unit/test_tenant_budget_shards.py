"""A sharded tenant budget (``tenant_shards`` > 1): each shard holds an equal share, a
reservation tries up to TENANT_PROBES shards at random, settlements go to the shard reserved, and
concurrent runs never admit more than the limit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import ValidationError

from agentocore import Settings
from agentocore.budget.daily import (
    TENANT_PROBES,
    DailyBudgets,
    DailyLimits,
    Estimate,
    Hold,
    budget_key,
)

NOON = 1_795_608_000.0  # 2026-11-25T12:00:00Z
DAY = "2026-11-25"


def ledger(table: str, dynamodb: Any, **limits: Any) -> DailyBudgets:
    return DailyBudgets(
        table, DailyLimits(**limits), client=dynamodb, clock=lambda: NOON, sleep=lambda s: None
    )


def shard_tokens(daily: DailyBudgets, dynamodb: Any, table: str, shards: int) -> list[int]:
    out = []
    for k in range(shards):
        got = dynamodb.get_item(
            TableName=table,
            Key={"PK": {"S": budget_key("tenant_daily", DAY, shard=k)}, "SK": {"S": "META"}},
        ).get("Item")
        out.append(int(got["tokens"]["N"]) if got else 0)
    return out


def test_shard_keys_keep_the_day_last_and_one_shard_is_the_single_item() -> None:
    assert budget_key("tenant_daily", DAY, shard=7) == f"BUDGET#tenant#s7#{DAY}"
    assert budget_key("tenant_daily", DAY) == f"BUDGET#tenant#{DAY}"


def test_each_shard_holds_its_share_and_the_total_never_passes_the_limit(dynamodb, table):
    daily = ledger(table, dynamodb, tenant_tokens=1000, tenant_shards=4)
    holds = []
    for _ in range(20):
        got = daily.reserve("u1", Estimate(100, 0.0))
        if not isinstance(got, Hold):
            stop = got
            break
        holds.append(got)
    # 4 shards of 250: two calls of 100 each; all 4 tried (TENANT_PROBES) before the stop
    assert len(holds) == 8 and TENANT_PROBES >= 4
    assert stop.budget == "tenant_daily" and "every shard tried is full" in stop.message
    assert shard_tokens(daily, dynamodb, table, 4) == [200] * 4
    for hold in holds:  # settled where they were reserved
        hold.settle(60, 0.0)
    assert shard_tokens(daily, dynamodb, table, 4) == [120] * 4
    total = daily.read("tenant_daily", DAY)
    assert (total["tokens"], total["spent_tokens"], total["reserved_tokens"], total["calls"]) == (
        480,
        480,
        0,
        8,
    )


def test_a_call_larger_than_a_share_is_refused_without_a_write(dynamodb, table, counter):
    daily = ledger(table, dynamodb, tenant_tokens=1000, tenant_shards=4)
    counter.reset()
    stop = daily.reserve("u1", Estimate(300, 0.0))
    assert not isinstance(stop, Hold) and stop.budget == "tenant_daily"
    assert counter.calls == []


def test_a_full_user_budget_stops_at_once_without_trying_other_shards(dynamodb, table, counter):
    daily = ledger(table, dynamodb, user_tokens=150, tenant_tokens=100_000, tenant_shards=8)
    assert isinstance(daily.reserve("u1", Estimate(100, 0.0)), Hold)
    counter.reset()
    stop = daily.reserve("u1", Estimate(100, 0.0))
    assert not isinstance(stop, Hold) and stop.budget == "user_daily"
    assert counter.calls == ["TransactWriteItems"]  # one try: the user item is full everywhere


def test_concurrent_runs_never_admit_more_than_the_limit(dynamodb, table):
    daily = ledger(table, dynamodb, tenant_tokens=2000, tenant_shards=4)
    admitted: list[Hold] = []
    lock = threading.Lock()

    def run(_: int) -> None:
        got = daily.reserve(None, Estimate(100, 0.0))
        if isinstance(got, Hold):
            with lock:
                admitted.append(got)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, range(40)))
    assert 0 < len(admitted) * 100 <= 2000
    assert sum(shard_tokens(daily, dynamodb, table, 4)) == len(admitted) * 100
    assert all(t <= 500 for t in shard_tokens(daily, dynamodb, table, 4))


def test_check_reports_exhaustion_only_when_every_shard_tried_is_full(dynamodb, table):
    daily = ledger(table, dynamodb, tenant_tokens=800, tenant_shards=4)
    assert daily.check("u1") is None
    while isinstance(daily.reserve("u1", Estimate(200, 0.0)), Hold):
        pass
    stop = daily.check("u1")
    assert stop is not None and stop.budget == "tenant_daily"


def test_usd_shares_split_the_cost_limit(dynamodb, table):
    daily = ledger(table, dynamodb, tenant_usd=1.0, tenant_shards=4)  # $0.25 a shard
    admitted = 0
    while isinstance(daily.reserve(None, Estimate(10, 0.1)), Hold):
        admitted += 1
    assert admitted == 8  # two of $0.10 per $0.25 share
    assert daily.read("tenant_daily", DAY)["usd"] == pytest.approx(0.8)


def test_settings_refuse_shards_too_small_for_a_call() -> None:
    Settings(budget_tenant_daily_tokens=1_000_000, budget_tenant_shards=100, max_tokens=2000)
    with pytest.raises(ValidationError, match="at least 4 \\* max_tokens"):
        Settings(budget_tenant_daily_tokens=100_000, budget_tenant_shards=100, max_tokens=2000)
    limits = DailyLimits.from_settings(
        Settings(budget_tenant_daily_usd=5.0, budget_tenant_shards=16)
    )
    assert limits.tenant_shards == 16
