"""ConversationRunner: a deferred run is saved with a pending continuation; resume finishes it."""

from __future__ import annotations

import itertools

import pytest

from agentocore import (
    Agent,
    ConversationMemory,
    ConversationNotFound,
    ConversationRunner,
    ScriptedModel,
    Settings,
    TurnConflict,
)
from agentocore.budget import Budget
from agentocore.memory import ConversationBusy
from agentocore.memory.window import StoredTurn, repair
from agentocore.models import ModelError
from agentocore.models.scripted import text_response

from .outbox_view import OutboxView
from .sample_tools import build_registry
from .test_loop_deadline import FakeClock, refund, slow


def setup(table, dynamodb, steps, *, window_messages=60, **settings):
    clock = FakeClock()
    sink = OutboxView(dynamodb, table)  # the actions the saves requested
    # a step taking the clock is built with it (a slow step); the others are played as they are
    model = ScriptedModel([s(clock) if callable(s) else s for s in steps])
    agent = Agent(model, build_registry(), settings=Settings(**settings), clock=clock)
    memory = ConversationMemory(table, client=dynamodb, window_messages=window_messages)
    return ConversationRunner(agent, memory), model, memory, sink, clock


def slow_refund(seconds=20, tid="t1"):
    return lambda clock: slow(clock, seconds, refund(tid))


def roles(memory, conversation_id):
    _, turns, _ = memory.history(conversation_id)
    return [t.role for t in turns], turns


def defer(runner, clock, conversation_id="c1", user_id="u1"):
    outcome = runner.send(
        conversation_id, "Refund A-1001", user_id=user_id, deadline=clock() + 25, priority="high"
    )
    assert outcome.result.status == "deferred"
    return outcome


def test_deferred_run_is_saved_with_its_continuation_pending(dynamodb, table, counter):
    runner, model, memory, sink, clock = setup(
        table, dynamodb, [slow_refund(), text_response("Refund requested.")]
    )
    counter.reset()
    outcome = defer(runner, clock)
    assert counter.calls == ["GetItem", "TransactWriteItems"]  # one transaction, as usual
    assert outcome.saved and outcome.deferred
    assert (outcome.first_turn, outcome.turn_count, outcome.exchange_turn) == (1, 3, 1)
    assert outcome.compacted is False
    running = outcome.running
    assert running is not None and running.invocation_id
    assert (running.agent_id, running.priority, running.iterations) == ("default", "high", 1)
    got, turns = roles(memory, "c1")
    assert got == ["user", "assistant", "user"]
    assert "toolResult" in turns[-1].content[0]
    meta = memory.get_meta("c1")
    assert meta.running is not None
    assert meta.running.invocation_id == running.invocation_id
    assert meta.running.priority == "high" and meta.running.since
    assert meta.input_tokens == 10  # the deferred part's usage is counted
    assert len(sink.actions) == 1 and model.remaining == 1


def test_send_while_a_continuation_is_pending_is_busy_and_runs_nothing(dynamodb, table):
    runner, model, memory, _, clock = setup(table, dynamodb, [slow_refund(), text_response("x")])
    pending = defer(runner, clock).running
    with pytest.raises(ConversationBusy) as busy:
        runner.send("c1", "are you there?", user_id="u1")
    assert busy.value.running.invocation_id == pending.invocation_id
    assert model.remaining == 1  # no model call
    assert roles(memory, "c1")[0] == ["user", "assistant", "user"]
    # the store refuses an append behind the pending continuation, whatever the caller
    with pytest.raises(TurnConflict):
        memory.append(
            "c1",
            [{"role": "user", "content": [{"text": "sneak"}]}],
            expected_turn_count=3,
            user_id="u1",
        )


def test_resume_finishes_the_exchange_and_clears_the_mark(dynamodb, table, counter):
    runner, model, memory, sink, clock = setup(
        table,
        dynamodb,
        [slow_refund(), text_response("Your refund was requested."), text_response("Hi")],
    )
    pending = defer(runner, clock).running
    counter.reset()
    outcome = runner.resume("c1", pending.invocation_id, user_id="u1")
    assert outcome is not None
    assert counter.calls == ["GetItem", "Query", "TransactWriteItems"]
    assert outcome.result.status == "completed"
    assert outcome.result.final_text == "Your refund was requested."
    assert (outcome.first_turn, outcome.turn_count, outcome.exchange_turn) == (4, 4, 1)
    assert outcome.running is None
    sent = model.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]  # no new user message
    got, _turns = roles(memory, "c1")
    assert got == ["user", "assistant", "user", "assistant"]
    assert all(a != b for a, b in itertools.pairwise(got))
    meta = memory.get_meta("c1")
    assert meta.running is None and meta.turn_count == 4
    assert meta.input_tokens == 20  # both parts
    assert len(sink.actions) == 1  # requested once across both parts
    # the conversation takes messages again, on top of the whole exchange
    after = runner.send("c1", "thanks", user_id="u1")
    assert after.result.status == "completed" and after.first_turn == 5
    assert [m["role"] for m in model.requests[2]["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]


def test_resume_for_another_or_a_finished_invocation_does_nothing(dynamodb, table):
    runner, model, _memory, _, clock = setup(
        table, dynamodb, [slow_refund(), text_response("done"), text_response("never")]
    )
    pending = defer(runner, clock).running
    before = dynamodb.scan(TableName=table)["Items"]
    assert runner.resume("c1", "not-the-pending-one", user_id="u1") is None
    assert runner.resume("unknown-conversation", pending.invocation_id, user_id="u1") is None
    assert dynamodb.scan(TableName=table)["Items"] == before
    assert model.remaining == 2
    finished = runner.resume("c1", pending.invocation_id, user_id="u1")
    assert finished is not None and not finished.replayed
    after = dynamodb.scan(TableName=table)["Items"]
    again = runner.resume("c1", pending.invocation_id, user_id="u1")  # redelivered
    assert again is not None and again.replayed  # answered from the continuation's receipt
    assert again.result.final_text == finished.result.final_text == "done"
    assert again.result.usage == finished.result.usage and again.result.messages == []
    assert (again.first_turn, again.exchange_turn) == (finished.first_turn, 1)
    assert dynamodb.scan(TableName=table)["Items"] == after
    assert model.remaining == 1
    with pytest.raises(ConversationNotFound):  # the receipt is the owner's
        runner.resume("c1", pending.invocation_id, user_id="mallory")


def test_resume_by_another_user_is_not_found(dynamodb, table):
    runner, model, memory, _, clock = setup(table, dynamodb, [slow_refund(), text_response("x")])
    pending = defer(runner, clock).running
    with pytest.raises(ConversationNotFound):
        runner.resume("c1", pending.invocation_id, user_id="mallory")
    running = memory.get_meta("c1").running
    assert running is not None and running.invocation_id == pending.invocation_id
    assert model.remaining == 1


def test_a_failing_continuation_clears_the_mark_with_a_failed_answer(dynamodb, table):
    runner, _, memory, _, clock = setup(
        table, dynamodb, [slow_refund(), ModelError("ThrottlingException"), text_response("ok")]
    )
    pending = defer(runner, clock).running
    outcome = runner.resume("c1", pending.invocation_id, user_id="u1")
    assert outcome is not None and outcome.result.status == "failed"
    assert "ThrottlingException" in (outcome.result.error or "")
    got, turns = roles(memory, "c1")
    assert got == ["user", "assistant", "user", "assistant"]
    assert turns[-1].content == [{"text": "[failed]"}]
    assert memory.get_meta("c1").running is None
    assert runner.send("c1", "try again", user_id="u1").result.status == "completed"


def test_an_incomplete_stored_exchange_is_closed_not_left_busy(dynamodb, table):
    # the exchange's user message is gone (expired): the window has no user text turn
    steps = [
        slow_refund(4, "t1"),
        slow_refund(4, "t2"),
        slow_refund(20, "t3"),
        text_response("never"),
    ]
    runner, model, memory, _, clock = setup(table, dynamodb, steps, window_messages=4)
    pending = defer(runner, clock).running
    assert roles(memory, "c1")[0] == ["user"] + ["assistant", "user"] * 3
    dynamodb.delete_item(
        TableName=table, Key={"PK": {"S": "CONV#c1"}, "SK": {"S": "TURN#000000001"}}
    )
    outcome = runner.resume("c1", pending.invocation_id, user_id="u1")
    assert outcome is not None and outcome.result.status == "failed"
    assert "could not be continued" in (outcome.result.error or "")
    assert model.remaining == 1  # no model call on a broken window
    got, turns = roles(memory, "c1")
    assert got[-1] == "assistant" and "[failed:" in turns[-1].content[0]["text"]
    assert memory.get_meta("c1").running is None


def test_the_continuation_checks_the_budget(dynamodb, table):
    runner, model, memory, _, clock = setup(table, dynamodb, [slow_refund(), text_response("x")])
    pending = defer(runner, clock).running  # spent 15 tokens
    outcome = runner.resume("c1", pending.invocation_id, user_id="u1", budget=Budget(15))
    assert outcome is not None and outcome.result.status == "budget_exceeded"
    assert model.remaining == 1
    got, turns = roles(memory, "c1")
    assert got[-1] == "assistant" and "budget exhausted" in turns[-1].content[0]["text"]
    assert memory.get_meta("c1").running is None


def test_a_fast_run_with_a_deadline_is_unchanged(dynamodb, table):
    runner, _, memory, _, clock = setup(
        table, dynamodb, [refund(), text_response("Refund requested.")]
    )
    outcome = runner.send("c1", "Refund A-1001", user_id="u1", deadline=clock() + 25)
    assert outcome.result.status == "completed" and not outcome.deferred
    assert roles(memory, "c1")[0] == ["user", "assistant", "user", "assistant"]
    assert memory.get_meta("c1").running is None


def test_repair_keeps_a_trailing_tool_result_only_for_a_continuation():
    turns = [
        StoredTurn(1, "user", [{"text": "q"}]),
        StoredTurn(2, "assistant", [{"toolUse": {"toolUseId": "t1", "name": "x", "input": {}}}]),
        StoredTurn(3, "user", [{"toolResult": {"toolUseId": "t1", "content": [{"text": "r"}]}}]),
    ]
    # a plain load never ends with a toolUse whose result it dropped
    assert [(t.number, t.content) for t in repair(turns)] == [
        (1, [{"text": "q"}]),
        (2, [{"text": "[tool call without result removed]"}]),
    ]
    assert [t.number for t in repair(turns, open_turn=True)] == [1, 2, 3]
    assert [t.number for t in repair(turns[:1], open_turn=True)] == []
