"""The per-user daily token budget, black-box through the deployed API: it holds across new
conversation ids and under 10 concurrent requests, and answers 429 naming it.

Every test runs as a fresh user (JWT ``sub``) whose ``BUDGET#user#<sub>#<today>`` item it
seeds, as an admin writing to the table, to ``limit - remainder``: the day's earlier usage.
Seeding is legitimate because it is the very item and counter (``tokens``) the framework ADDs
every reservation and settlement to, and checks its admission condition against; the deployed
limit (read from the function, shared by every e2e test) stays as it is.

The message gets the help text from ``rules:v1``: one model call per run, no tool, so a run is
either admitted (200, one settled call) or refused before its call (429, nothing stored).
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from time import sleep
from typing import Any

import pytest

from .conftest import Api, item, turns

MESSAGE = "Hello, what can you do for me?"
REQUESTS = 10
NEED = re.compile(r"may need (\d+) tokens")
#: More than a test takes (its requests run in seconds on the local stack).
MIDNIGHT_MARGIN_S = 120


@dataclass(frozen=True)
class RunCost:
    """What one run of ``MESSAGE`` reserves before its model call and settles after it."""

    reserved: int
    spent: int


def today() -> str:
    """Today (UTC). Within ``MIDNIGHT_MARGIN_S`` of midnight it first waits for the next day, so
    that a test's requests fall on the day whose item it seeded."""
    now = datetime.now(UTC)
    left = (datetime.combine(now.date() + timedelta(days=1), time(), UTC) - now).total_seconds()
    if left < MIDNIGHT_MARGIN_S:
        sleep(left + 1)
    return datetime.now(UTC).date().isoformat()


def next_midnight(day: str) -> str:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def fresh_user() -> str:
    return f"budget-{uuid.uuid4().hex[:12]}"


def new_conversation() -> str:
    return f"e2e-budget-{uuid.uuid4().hex[:12]}"


def budget_pk(user: str, day: str) -> str:
    return f"BUDGET#user#{user}#{day}"


def counters(aws: Any, outputs: dict[str, Any], user: str, day: str) -> dict[str, int]:
    """The numeric attributes of the user's budget item of ``day`` (absent ones are 0)."""
    got = item(aws, outputs, budget_pk(user, day)) or {}
    names = ("tokens", "spent_tokens", "reserved_tokens", "reservations", "calls")
    return {name: int(got[name]["N"]) if name in got else 0 for name in names}


def seed(aws: Any, outputs: dict[str, Any], user: str, day: str, tokens: int) -> None:
    """The user's earlier usage today: ``tokens`` spent (the user is fresh: no item yet)."""
    aws("dynamodb").put_item(
        TableName=outputs["table_name"],
        Item={
            "PK": {"S": budget_pk(user, day)},
            "SK": {"S": "META"},
            "tokens": {"N": str(tokens)},
            "spent_tokens": {"N": str(tokens)},
            "usd_nanos": {"N": "0"},
            "spent_usd_nanos": {"N": "0"},
            "ttl": {"N": str(int(datetime.now(UTC).timestamp()) + 4 * 86400)},
        },
        ConditionExpression="attribute_not_exists(PK)",
    )


def post(api: Api, user: str, conversation: str) -> tuple[int, Any]:
    return api.call(
        "POST", f"/conversations/{conversation}/messages", {"message": MESSAGE}, user=user
    )


def stored_tokens(aws: Any, outputs: dict[str, Any], conversation: str) -> int:
    """The usage the conversation's META holds (every token its runs' model calls processed)."""
    meta = item(aws, outputs, f"CONV#{conversation}")
    assert meta is not None, f"{conversation}: no META"
    names = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    return sum(int(float(meta[n]["N"])) for n in names if n in meta)


def assert_nothing_stored(aws: Any, outputs: dict[str, Any], conversation: str) -> None:
    assert item(aws, outputs, f"CONV#{conversation}") is None, f"{conversation}: META stored"
    assert turns(aws, outputs, conversation) == [], f"{conversation}: turns stored"


def assert_user_budget_429(status: int, body: Any, day: str) -> None:
    assert status == 429, body
    error = body["error"]
    assert error["code"] == "budget_exceeded", body
    assert error["budget"] == "user_daily", body
    assert error["resets_at"] == next_midnight(day), body


@pytest.fixture(scope="module")
def limit(aws: Any, outputs: dict[str, Any]) -> int:
    """The deployed per-user daily token limit."""
    name = outputs["function_names"]["agent_executor"]
    env = aws("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    value = int(env.get("AGENTOCORE_BUDGET_USER_DAILY_TOKENS", "0"))
    assert value > 0, "workspace ci deploys a per-user daily token limit"
    return value


@pytest.fixture(scope="module")
def run_cost(api: Api, aws: Any, outputs: dict[str, Any], limit: int) -> RunCost:
    """Measured: the reservation (named by the 429 of a user with nothing left) and the settled
    spend (the budget item after one run of a user with no usage yet)."""
    day = today()
    full = fresh_user()
    seed(aws, outputs, full, day, limit)
    conversation = new_conversation()
    status, body = post(api, full, conversation)
    assert_user_budget_429(status, body, day)
    need = NEED.search(body["error"]["message"])
    assert need, body
    assert counters(aws, outputs, full, day)["tokens"] == limit  # a refusal writes nothing
    assert_nothing_stored(aws, outputs, conversation)

    user, conversation = fresh_user(), new_conversation()
    status, body = post(api, user, conversation)
    assert status == 200 and body["status"] == "completed", body
    assert body["tool_calls"] == [] and body["iterations"] == 1, body
    got = counters(aws, outputs, user, day)
    assert (got["calls"], got["reservations"], got["reserved_tokens"]) == (1, 0, 0), got
    assert got["tokens"] == got["spent_tokens"] == stored_tokens(aws, outputs, conversation)
    cost = RunCost(reserved=int(need.group(1)), spent=got["spent_tokens"])
    assert 0 < cost.spent <= cost.reserved, cost  # the estimate covers the call
    print(f"one run of {MESSAGE!r}: {cost}")
    return cost


def test_the_user_budget_holds_across_new_conversation_ids(api, aws, outputs, limit, run_cost):
    """A user whose remainder covers exactly ``RUNS`` runs gets them on new conversation ids,
    then 429 (user_daily, next UTC midnight) on any id, new or old; other users still run."""
    runs = 3
    day, user = today(), fresh_user()
    # admitted while seeded + n * spent + reserved <= limit: n = 0 .. runs - 1
    remainder = run_cost.reserved + (runs - 1) * run_cost.spent + run_cost.spent // 2
    seeded = limit - remainder
    seed(aws, outputs, user, day, seeded)

    answered = []
    for _ in range(runs):
        conversation = new_conversation()
        status, body = post(api, user, conversation)
        assert status == 200 and body["status"] == "completed", body
        answered.append(conversation)
    refused = [new_conversation() for _ in range(3)]
    for conversation in refused:
        assert_user_budget_429(*post(api, user, conversation), day)
        assert_nothing_stored(aws, outputs, conversation)
    # an existing conversation of the user is refused too, and keeps its turns
    assert_user_budget_429(*post(api, user, answered[0]), day)
    assert len(turns(aws, outputs, answered[0])) == 2

    got = counters(aws, outputs, user, day)
    spent = sum(stored_tokens(aws, outputs, c) for c in answered)
    assert got == {
        "tokens": seeded + spent,
        "spent_tokens": seeded + spent,
        "reserved_tokens": 0,
        "reservations": 0,
        "calls": runs,
    }, got
    assert got["tokens"] <= limit

    other, conversation = fresh_user(), new_conversation()
    status, body = post(api, other, conversation)
    assert status == 200 and body["status"] == "completed", body


def test_ten_concurrent_requests_never_overspend(api, aws, outputs, limit, run_cost):
    """10 concurrent requests (each on a new conversation id) of a user whose remainder covers
    one reservation, and after that run settles, less than another: exactly one 200, nine
    429, no 5xx; the item holds the seed plus that run's stored usage (within the limit, so
    within the limit plus one reservation), and no reservation is left outstanding."""
    day, user = today(), fresh_user()
    remainder = run_cost.reserved + run_cost.spent // 2
    seeded = limit - remainder
    seed(aws, outputs, user, day, seeded)
    conversations = [new_conversation() for _ in range(REQUESTS)]

    with ThreadPoolExecutor(REQUESTS) as pool:
        results = list(pool.map(lambda c: (c, *post(api, user, c)), conversations))

    statuses = sorted(status for _, status, _ in results)
    assert statuses == [200] + [429] * (REQUESTS - 1), results
    answered = []
    for conversation, status, body in results:
        if status == 200:
            assert body["status"] == "completed", body
            stored = turns(aws, outputs, conversation)
            assert [t["role"]["S"] for t in sorted(stored, key=lambda t: t["SK"]["S"])] == [
                "user",
                "assistant",
            ]
            answered.append(conversation)
        else:
            assert_user_budget_429(status, body, day)
            assert_nothing_stored(aws, outputs, conversation)

    got = counters(aws, outputs, user, day)
    spent = sum(stored_tokens(aws, outputs, c) for c in answered)
    assert got == {
        "tokens": seeded + spent,
        "spent_tokens": seeded + spent,
        "reserved_tokens": 0,
        "reservations": 0,
        "calls": len(answered),
    }, got
    assert got["tokens"] <= limit + run_cost.reserved
    assert got["tokens"] <= limit  # the estimate covered the call: no overspend at all
    print(f"10 concurrent: {len(answered)} answered; {got['tokens']} of {limit} tokens")
