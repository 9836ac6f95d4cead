"""Daily budgets per user and per tenant: reservations before each model call, settlement after,
on moto DynamoDB (concurrent runs, failed calls, failed ledger writes, unpriced models)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from agentocore import Agent, ConversationMemory, ConversationRunner, PricingTable, Settings
from agentocore.budget import ModelPrice
from agentocore.budget.daily import (
    BudgetLedgerError,
    DailyBudgets,
    DailyLimits,
    Estimate,
    Hold,
    budget_key,
    day_of,
    resets_at,
)
from agentocore.budget.gate import request_tokens
from agentocore.models import ModelError, ScriptedModel
from agentocore.models.scripted import text_response

NOON = 1_795_608_000.0  # 2026-11-25T12:00:00Z
DAY = "2026-11-25"
PRICED = PricingTable({"priced-model": ModelPrice(3.0, 15.0, 0.3, 3.75)})


def build(table, dynamodb, model, *, limits, client=None, clock=lambda: NOON, **settings):
    settings.setdefault("max_tokens", 50)
    daily = DailyBudgets(
        table, limits, client=client or dynamodb, clock=clock, sleep=lambda s: None
    )
    agent = Agent(model, settings=Settings(**settings), pricing=PRICED, daily_budgets=daily)
    memory = ConversationMemory(table, client=dynamodb)
    return ConversationRunner(agent, memory), daily


def test_the_user_budget_holds_across_new_conversation_ids(dynamodb, table):
    steps = [text_response("ok", input_tokens=200, output_tokens=20) for _ in range(3)]
    model = ScriptedModel(steps, model_id="priced-model")
    runner, daily = build(table, dynamodb, model, limits=DailyLimits(user_tokens=500))
    estimate = runner.agent.gate.admit("priced-model", None, max_tokens=0)  # nothing limited
    assert isinstance(estimate, Hold) and not estimate.items
    outcomes = [runner.send(f"new-{i}", "hello", user_id="u1") for i in range(3)]
    assert [o.result.status for o in outcomes] == ["completed", "completed", "budget_exceeded"]
    stopped = outcomes[2]
    assert stopped.saved is False and model.remaining == 1  # denied before the model call
    assert stopped.result.budget is not None
    assert stopped.result.budget.budget == "user_daily"
    assert stopped.result.budget.resets_at == "2026-11-26T00:00:00Z"
    assert "user daily token budget exhausted: 440 of 500" in stopped.result.error
    got = daily.read("user_daily", DAY, "u1")
    assert (got["tokens"], got["spent_tokens"], got["reserved_tokens"], got["calls"]) == (
        440,
        440,
        0,
        2,
    )
    # another user has a budget of their own; the next UTC day starts from zero
    assert runner.send("other", "hello", user_id="u2").result.status == "completed"


def test_items_live_under_the_budget_prefix_and_expire(dynamodb, table):
    model = ScriptedModel([text_response("ok")], model_id="priced-model")
    runner, _ = build(
        table, dynamodb, model, limits=DailyLimits(user_usd=1.0, tenant_tokens=10_000)
    )
    runner.send("c1", "hello", user_id="a#b")
    items = {
        i["PK"]["S"]: i for i in dynamodb.scan(TableName=table)["Items"] if i["SK"]["S"] == "META"
    }
    user, tenant = budget_key("user_daily", DAY, "a#b"), budget_key("tenant_daily", DAY)
    assert (user, tenant) == (f"BUDGET#user#a#b#{DAY}", f"BUDGET#tenant#{DAY}")
    assert user in items and tenant in items
    assert "user_id" not in items[user]  # never in the conversations' index
    assert int(items[tenant]["ttl"]["N"]) == int(NOON) - 43_200 + 4 * 86_400
    assert int(items[user]["usd_nanos"]["N"]) == (10 * 3 + 5 * 15) * 1000


def test_ten_concurrent_requests_overspend_by_at_most_one_reservation(dynamodb, table):
    """All ten reserve (or are refused) before any model call returns: the runs cannot all
    read the same amount already spent."""
    admitted: list[Estimate] = []
    decided = threading.Semaphore(0)
    release = threading.Event()

    class CountingBudgets(DailyBudgets):
        def reserve(self, user_id, est):
            try:
                got = super().reserve(user_id, est)
                if isinstance(got, Hold):
                    admitted.append(est)
                return got
            finally:
                decided.release()

    def answer(request: Any) -> dict[str, Any]:
        assert release.wait(30)
        # the dearest real usage a call can have: its whole input (uncached) and maxTokens
        return text_response("ok", input_tokens=request_tokens(request), output_tokens=50)

    model = ScriptedModel([answer] * 10, model_id="priced-model")
    limits = DailyLimits(user_tokens=600, user_usd=1.0)
    daily = CountingBudgets(table, limits, client=dynamodb, clock=lambda: NOON)
    agent = Agent(model, settings=Settings(max_tokens=50), pricing=PRICED, daily_budgets=daily)
    runner = ConversationRunner(agent, ConversationMemory(table, client=dynamodb))

    def coordinator() -> None:
        for _ in range(10):
            decided.acquire()
        release.set()

    threading.Thread(target=coordinator, daemon=True).start()
    with ThreadPoolExecutor(10) as pool:
        outcomes = list(
            pool.map(lambda i: runner.send(f"c{i}", "hello there", user_id="u1"), range(10))
        )
    statuses = [o.result.status for o in outcomes]
    est = admitted[0].tokens
    assert 0 < len(admitted) == statuses.count("completed") < 10
    assert len(admitted) == 600 // est  # exactly as many as the limit holds
    assert {o.result.budget.budget for o in outcomes if o.result.budget} == {"user_daily"}
    got = daily.read("user_daily", DAY, "u1")
    assert got["reserved_tokens"] == 0 and got["reservations"] == 0
    assert got["tokens"] == got["spent_tokens"]
    assert got["spent_tokens"] <= 600 + est  # the bound; in fact within the limit:
    assert got["spent_tokens"] <= 600


def test_a_failed_model_call_releases_its_reservation(dynamodb, table):
    model = ScriptedModel([ModelError("boom")], model_id="priced-model")
    runner, daily = build(table, dynamodb, model, limits=DailyLimits(user_tokens=10_000))
    outcome = runner.send("c1", "hello", user_id="u1")
    assert outcome.result.status == "failed"
    got = daily.read("user_daily", DAY, "u1")
    assert (got["tokens"], got["reserved_tokens"], got["reservations"], got["calls"]) == (0,) * 4


class FlakyClient:
    """The moto client, whose TransactWriteItems fails as scripted (``None``: passes)."""

    def __init__(self, client: Any, failures: list[str | None]) -> None:
        self._client = client
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        code = self.failures.pop(0) if self.failures else None
        if code == "TransactionConflict":
            reasons = [{"Code": "TransactionConflict"} for _ in kwargs["TransactItems"]]
            error = {"Code": "TransactionCanceledException", "Message": "conflict"}
            raise ClientError({"Error": error, "CancellationReasons": reasons}, "Transact")
        if code is not None:
            raise ClientError({"Error": {"Code": code, "Message": code}}, "Transact")
        return self._client.transact_write_items(**kwargs)


def test_conflicting_transactions_are_retried(dynamodb, table):
    flaky = FlakyClient(dynamodb, ["TransactionConflict", "TransactionConflict", None])
    model = ScriptedModel([text_response("ok")], model_id="priced-model")
    runner, daily = build(
        table, dynamodb, model, limits=DailyLimits(tenant_tokens=10_000), client=flaky
    )
    assert runner.send("c1", "hello", user_id="u1").result.status == "completed"
    assert daily.read("tenant_daily", DAY)["spent_tokens"] == 15


def test_a_ledger_that_cannot_reserve_fails_closed(dynamodb, table):
    flaky = FlakyClient(dynamodb, ["ProvisionedThroughputExceededException"])
    model = ScriptedModel([text_response("never")], model_id="priced-model")
    runner, _ = build(table, dynamodb, model, limits=DailyLimits(user_tokens=10_000), client=flaky)
    outcome = runner.send("c1", "hello", user_id="u1")
    assert outcome.result.status == "failed" and "budget items not written" in outcome.result.error
    assert model.remaining == 1 and outcome.saved is False


def test_a_failed_settlement_keeps_the_estimate_counted(dynamodb, table):
    flaky = FlakyClient(dynamodb, [None, "InternalServerError"])  # reserve ok, settle fails
    model = ScriptedModel([text_response("ok")], model_id="priced-model")
    runner, daily = build(
        table, dynamodb, model, limits=DailyLimits(user_tokens=10_000), client=flaky
    )
    assert runner.send("c1", "hello", user_id="u1").result.status == "completed"
    got = daily.read("user_daily", DAY, "u1")
    assert got["spent_tokens"] == 0 and got["reserved_tokens"] == got["tokens"] > 15


def test_a_crash_between_reserve_and_settle_costs_that_day_one_estimate(dynamodb, table):
    now = [NOON]
    daily = DailyBudgets(
        table, DailyLimits(user_tokens=1000), client=dynamodb, clock=lambda: now[0]
    )
    stranded = daily.reserve("u1", Estimate(400, 0.01))  # the process dies: never settled
    assert isinstance(stranded, Hold)
    assert isinstance(daily.reserve("u1", Estimate(600, 0.01)), Hold)
    stop = daily.reserve("u1", Estimate(1, 0.0))
    assert not isinstance(stop, Hold) and stop.resets_at == resets_at(DAY)
    assert daily.check("u1") is not None
    now[0] += 86_400  # the next UTC day is a new item
    assert day_of(now[0]) == "2026-11-26" and daily.check("u1") is None
    assert isinstance(daily.reserve("u1", Estimate(1000, 0.01)), Hold)


def test_an_estimate_over_the_whole_limit_is_refused_without_a_write(dynamodb, table):
    daily = DailyBudgets(table, DailyLimits(tenant_usd=0.001), client=dynamodb, clock=lambda: NOON)
    stop = daily.reserve(None, Estimate(10, 0.01))
    assert not isinstance(stop, Hold) and stop.budget == "tenant_daily"
    assert "tenant daily cost budget exhausted" in stop.message
    assert dynamodb.scan(TableName=table)["Items"] == []


@pytest.mark.parametrize(
    ("settings", "limits", "expected"),
    [
        ({}, DailyLimits(), "conversation"),  # the per-conversation USD budget is in force
        ({"budget_max_usd": 0}, DailyLimits(user_usd=1.0), "user_daily"),
        ({"budget_max_usd": 0}, DailyLimits(tenant_usd=1.0), "tenant_daily"),
    ],
)
def test_an_unpriced_model_fails_usd_budgets_closed(dynamodb, table, settings, limits, expected):
    model = ScriptedModel([text_response("never")], model_id="anthropic.claude-new-v9")
    runner, _ = build(table, dynamodb, model, limits=limits, **settings)
    outcome = runner.send("c1", "hello", user_id="u1")
    assert outcome.result.status == "budget_exceeded" and model.remaining == 1
    assert outcome.result.budget is not None and outcome.result.budget.budget == expected
    assert "has no price" in outcome.result.error


@pytest.mark.parametrize(
    ("model_id", "settings"),
    [
        ("anthropic.claude-new-v9", {"budget_unpriced": "allow"}),
        ("anthropic.claude-new-v9", {"budget_max_usd": 0}),  # only token budgets in force
        ("rules:v1", {}),  # self-hosted providers cost nothing
        ("priced-model", {}),
    ],
)
def test_priced_self_hosted_or_allowed_models_run(dynamodb, table, model_id, settings):
    model = ScriptedModel([text_response("ok")], model_id=model_id)
    runner, _ = build(table, dynamodb, model, limits=DailyLimits(user_tokens=10_000), **settings)
    assert runner.send("c1", "hello", user_id="u1").result.status == "completed"


def test_settings_from_the_environment():
    s = Settings.from_env(
        {
            "AGENTOCORE_BUDGET_USER_DAILY_TOKENS": "200000",
            "AGENTOCORE_BUDGET_USER_DAILY_USD": "2.5",
            "AGENTOCORE_BUDGET_TENANT_DAILY_TOKENS": "9000000",
            "AGENTOCORE_BUDGET_TENANT_DAILY_USD": "100",
            "AGENTOCORE_BUDGET_UNPRICED": "allow",
        }
    )
    assert DailyLimits.from_settings(s) == DailyLimits(200_000, 2.5, 9_000_000, 100.0)
    assert s.budget_unpriced == "allow" and Settings().budget_unpriced == "deny"
    with pytest.raises(ValueError, match="budget_unpriced"):
        Settings.from_env({"AGENTOCORE_BUDGET_UNPRICED": "maybe"})
    with pytest.raises(BudgetLedgerError):
        raise BudgetLedgerError("importable")
