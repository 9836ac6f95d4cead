"""The outbox is written by the turn's own transaction: a save that fails requests nothing."""

from __future__ import annotations

import json

import pytest

from agentocore import Agent, ScriptedModel
from agentocore.events import ActionRequest
from agentocore.events.outbox import PENDING_ATTR, outbox_pk
from agentocore.memory import ConversationMemory, TurnConflict, codec
from agentocore.memory.store import MAX_TRANSACTION_ITEMS
from agentocore.models.scripted import text_response, tool_use_response
from agentocore.session import ConversationRunner

from .outbox_view import OutboxView
from .sample_tools import build_registry

REFUND = ("t1", "trigger_refund", {"order_id": "A-1001", "reason": "arrived broken"})


def action(n: int = 1) -> ActionRequest:
    return ActionRequest(type="RefundRequested", action_id=f"a{n}", detail={"amount": n})


def runner(table, dynamodb, steps):
    agent = Agent(ScriptedModel(steps), build_registry())
    return ConversationRunner(agent, ConversationMemory(table, client=dynamodb))


def test_one_transaction_saves_the_turns_and_one_outbox_item(dynamodb, table, counter):
    r = runner(table, dynamodb, [tool_use_response(REFUND), text_response("Requested.")])
    counter.reset()
    outcome = r.send("c1", "Refund A-1001", user_id="u1")
    assert counter.calls == ["GetItem", "TransactWriteItems"]
    [item] = OutboxView(dynamodb, table).items
    assert item["PK"]["S"] == outbox_pk("c1") and item["SK"]["S"] == "TURN#000000001"
    assert PENDING_ATTR in item and "published_at" not in item
    [entry] = json.loads(item["entries"]["S"])
    assert entry == outcome.result.actions[0].entry()  # exactly what entry() returns
    assert [a["S"] for a in item["action_ids"]["L"]] == [outcome.result.actions[0].action_id]


def test_a_turn_without_actions_writes_no_outbox_item(dynamodb, table):
    runner(table, dynamodb, [text_response("Hi")]).send("c1", "Hello")
    assert OutboxView(dynamodb, table).items == []


def test_a_conflicting_save_writes_no_outbox_item(dynamodb, table):
    memory = ConversationMemory(table, client=dynamodb)
    memory.append("c1", [{"role": "user", "content": [{"text": "x"}]}], expected_turn_count=0)
    with pytest.raises(TurnConflict):
        memory.append(
            "c1",
            [{"role": "user", "content": [{"text": "y"}]}],
            expected_turn_count=0,  # someone else saved turn 1 first
            actions=[action()],
        )
    assert OutboxView(dynamodb, table).items == []


def test_conflicts_beyond_the_retries_request_nothing(dynamodb, table, monkeypatch):
    r = runner(table, dynamodb, [tool_use_response(REFUND), text_response("Requested.")])
    r.conflict_retries = 0
    real = r.memory.append

    def someone_else_first(conversation_id, messages, **kwargs):
        other = [{"role": "user", "content": [{"text": "other"}]}]
        real(conversation_id, other, expected_turn_count=kwargs["expected_turn_count"])
        return real(conversation_id, messages, **kwargs)

    monkeypatch.setattr(r.memory, "append", someone_else_first)
    with pytest.raises(TurnConflict):
        r.send("c1", "Refund A-1001")
    assert OutboxView(dynamodb, table).items == []


def test_a_conflict_retried_saves_the_outbox_at_the_new_position(dynamodb, table, monkeypatch):
    r = runner(table, dynamodb, [tool_use_response(REFUND), text_response("Requested.")])
    real = r.memory.append
    calls = []

    def conflict_once(conversation_id, messages, **kwargs):
        if not calls:
            other = [{"role": "user", "content": [{"text": "other"}]}]
            real(conversation_id, other, expected_turn_count=kwargs["expected_turn_count"])
        calls.append(kwargs["expected_turn_count"])
        return real(conversation_id, messages, **kwargs)

    monkeypatch.setattr(r.memory, "append", conflict_once)
    outcome = r.send("c1", "Refund A-1001")
    assert outcome.conflicts == 1 and calls == [0, 1]
    [item] = OutboxView(dynamodb, table).items
    assert item["SK"]["S"] == "TURN#000000002"
    assert len(OutboxView(dynamodb, table).actions) == 1


def test_a_fault_between_the_run_and_the_save_requests_nothing(dynamodb, table, monkeypatch):
    r = runner(table, dynamodb, [tool_use_response(REFUND), text_response("Requested.")])

    def crash(*args, **kwargs):
        raise ConnectionError("the function died before its save")

    monkeypatch.setattr(r.memory.client, "transact_write_items", crash)
    with pytest.raises(ConnectionError):
        r.send("c1", "Refund A-1001")
    monkeypatch.undo()
    assert OutboxView(dynamodb, table).items == []
    assert r.memory.get_meta("c1").turn_count == 0


def test_the_runner_refuses_an_agent_that_publishes_itself():
    class Sink:
        def publish(self, actions):
            raise AssertionError("never")

    agent = Agent(ScriptedModel([]), build_registry(), action_sink=Sink())
    with pytest.raises(ValueError, match="outbox"):
        ConversationRunner(agent, ConversationMemory("t"))


def test_the_longest_run_its_outbox_and_its_receipt_fit_one_transaction(dynamodb, table):
    """max_iterations=47: 1 user + 47 x (assistant + user) + the closing assistant = 96
    messages; + META + the outbox item + the request's receipt = 99 <= MAX_TRANSACTION_ITEMS."""
    from agentocore.config import MAX_ITERATIONS_LIMIT
    from agentocore.memory.receipts import Receipt

    longest = 1 + 2 * MAX_ITERATIONS_LIMIT + 1
    assert longest + 3 <= MAX_TRANSACTION_ITEMS
    receipt = Receipt(request_id="req-longest", outcome="{}")
    memory = ConversationMemory(table, client=dynamodb)
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": [{"text": f"m{i}"}]}
        for i in range(longest)
    ]
    saved = memory.append(
        "c1", messages, expected_turn_count=0, actions=[action()], receipt=receipt
    )
    assert saved == longest and memory.get_receipt("c1", "req-longest") is not None
    too_many = [*messages, messages[0], messages[1]]
    with pytest.raises(ValueError, match=r"1\.\.97"):
        memory.append("c2", too_many, expected_turn_count=0, actions=[action()], receipt=receipt)
    assert len(OutboxView(dynamodb, table).items) == 1


def test_large_actions_shrink_the_turns_budget_not_the_transaction_limit(dynamodb, table):
    memory = ConversationMemory(table, client=dynamodb)
    big = ActionRequest(type="RefundRequested", action_id="big", detail={"note": "x" * 300_000})
    text = "y" * 1_000_000
    messages = [
        {"role": r, "content": [{"text": text}]} for r in ("user", "assistant", "user", "assistant")
    ]
    memory.append("c1", messages, expected_turn_count=0, actions=[big])
    [item] = OutboxView(dynamodb, table).items
    _, turns, _ = memory.history("c1")
    stored = sum(len(json.dumps(t.content).encode()) for t in turns)
    assert stored + len(item["entries"]["S"].encode()) <= codec.MAX_TRANSACTION_BYTES
