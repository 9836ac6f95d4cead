"""Request receipts: a request with an id is stored once, whatever is retried or redelivered.

The receipt is written by the save's transaction; a retry of the request finds it and is
answered from it (``replayed``) without a model call or a write. A failed run's receipt does
not answer a client's retry (``retry_failed``): it runs again and replaces the receipt."""

from __future__ import annotations

import json
import threading

import pytest

from agentocore import ConversationNotFound, ConversationRunner
from agentocore.agent.result import AgentResult
from agentocore.events.actions import ActionRequest
from agentocore.memory.receipts import MAX_OUTCOME_BYTES
from agentocore.models import ModelError
from agentocore.models.scripted import text_response

from .test_loop_deadline import refund
from .test_session_continuation import defer, setup, slow_refund


def kinds(dynamodb, table, conversation_id="c1"):
    items = dynamodb.scan(TableName=table)["Items"]
    return sorted(
        i["SK"]["S"].split("#")[0] for i in items if i["PK"]["S"] == f"CONV#{conversation_id}"
    )


def test_a_saved_request_is_answered_from_its_receipt_without_running(dynamodb, table, counter):
    runner, model, _memory, sink, _ = setup(
        table, dynamodb, [refund(), text_response("Refund requested."), text_response("no")]
    )
    first = runner.send("c1", "Refund A-1001", user_id="u1", request_id="req-1")
    assert first.saved and not first.replayed
    before = dynamodb.scan(TableName=table)["Items"]
    counter.reset()
    again = runner.send("c1", "Refund A-1001", user_id="u1", request_id="req-1")
    assert counter.calls == ["GetItem"]  # the receipt; nothing else read or written
    assert again.replayed and again.saved and again.result.messages == []
    assert (again.first_turn, again.turn_count, again.exchange_turn) == (1, 4, 1)
    got, want = again.result, first.result
    assert (got.status, got.final_text, got.iterations) == (want.status, want.final_text, 2)
    assert (got.usage, got.cost_usd, got.model_id) == (want.usage, want.cost_usd, want.model_id)
    assert got.tool_calls == want.tool_calls and got.actions == want.actions
    assert dynamodb.scan(TableName=table)["Items"] == before
    assert model.remaining == 1 and len(sink.actions) == 1
    assert kinds(dynamodb, table) == ["META", "REQ", "TURN", "TURN", "TURN", "TURN"]


def test_without_a_request_id_nothing_is_remembered(dynamodb, table):
    runner, _model, _, _, _ = setup(table, dynamodb, [text_response("a"), text_response("b")])
    runner.send("c1", "hi", user_id="u1")
    again = runner.send("c1", "hi", user_id="u1")
    assert not again.replayed and again.result.final_text == "b"
    assert kinds(dynamodb, table) == ["META", "TURN", "TURN", "TURN", "TURN"]


def test_two_deliveries_at_once_store_the_exchange_once(dynamodb, table):
    """Both load before either saves; the second save conflicts, finds the first's receipt
    and answers from it: its own run (and the action it would request) is discarded."""
    both_running = threading.Barrier(2, timeout=10)

    def answer(text):
        def step(request):
            both_running.wait()
            return text_response(text)

        return lambda clock: step  # setup builds callable steps with its clock

    runners = [
        setup(table, dynamodb, [answer("from A")])[0],
        setup(table, dynamodb, [answer("from B")])[0],
    ]
    outcomes: dict[int, object] = {}

    def deliver(i: int, runner: ConversationRunner) -> None:
        outcomes[i] = runner.send("c1", "hello", user_id="u1", request_id="inv-9")

    threads = [threading.Thread(target=deliver, args=(i, r)) for i, r in enumerate(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    a, b = outcomes[0], outcomes[1]
    assert sorted([a.replayed, b.replayed]) == [False, True]
    assert a.result.final_text == b.result.final_text in ("from A", "from B")
    assert a.first_turn == b.first_turn == 1
    assert kinds(dynamodb, table) == ["META", "REQ", "TURN", "TURN"]


def test_a_failed_run_is_run_again_on_a_client_retry_and_its_receipt_replaced(dynamodb, table):
    runner, model, _memory, _, _ = setup(
        table,
        dynamodb,
        [refund(), ModelError("model down"), refund(), text_response("ok now"), text_response("x")],
    )
    failed = runner.send("c1", "hi", user_id="u1", request_id="r-1", retry_failed=True)
    assert failed.result.status == "failed" and failed.saved
    redelivered = runner.send("c1", "hi", user_id="u1", request_id="r-1")  # an event's
    assert redelivered.replayed and redelivered.result.status == "failed"
    retried = runner.send("c1", "hi", user_id="u1", request_id="r-1", retry_failed=True)
    assert not retried.replayed and retried.result.final_text == "ok now"
    assert retried.first_turn == 5  # after the stored failed exchange (4 turns)
    third = runner.send("c1", "hi", user_id="u1", request_id="r-1", retry_failed=True)
    assert third.replayed and third.result.final_text == "ok now" and third.first_turn == 5
    assert model.remaining == 1
    assert kinds(dynamodb, table) == ["META", "REQ"] + ["TURN"] * 8  # one receipt, replaced


def test_another_users_request_is_not_theirs(dynamodb, table):
    runner, model, _, _, _ = setup(table, dynamodb, [text_response("for u1"), text_response("x")])
    runner.send("c1", "hi", user_id="u1", request_id="shared-id")
    with pytest.raises(ConversationNotFound):
        runner.send("c1", "hi", user_id="mallory", request_id="shared-id")
    assert model.remaining == 1


def test_a_deferred_request_is_answered_with_its_continuation(dynamodb, table):
    runner, model, _memory, _, clock = setup(
        table, dynamodb, [slow_refund(), text_response("done"), text_response("never")]
    )
    first = runner.send(
        "c1", "Refund A-1001", user_id="u1", deadline=clock() + 25, request_id="slow-1"
    )
    assert first.deferred
    again = runner.send("c1", "Refund A-1001", user_id="u1", request_id="slow-1")
    assert again.replayed and again.result.status == "deferred"
    assert again.running is not None
    assert again.running.invocation_id == first.running.invocation_id  # not ConversationBusy
    finished = runner.resume("c1", first.running.invocation_id, user_id="u1")
    assert finished is not None and finished.result.final_text == "done"
    late = runner.send("c1", "Refund A-1001", user_id="u1", request_id="slow-1")
    assert late.replayed and late.running.invocation_id == first.running.invocation_id
    assert model.remaining == 1


def test_a_continuation_redelivered_after_it_finished_answers_its_result(dynamodb, table):
    runner, model, _, _, clock = setup(
        table, dynamodb, [slow_refund(), text_response("done"), text_response("never")]
    )
    pending = defer(runner, clock).running
    finished = runner.resume("c1", pending.invocation_id, user_id="u1")
    again = runner.resume("c1", pending.invocation_id, user_id="u1")
    assert again is not None and again.replayed
    assert (again.result.final_text, again.exchange_turn) == ("done", 1)
    assert again.first_turn == finished.first_turn and model.remaining == 1


def test_receipts_stay_off_the_user_index_and_the_history(dynamodb, table):
    runner, _, memory, _, _ = setup(table, dynamodb, [text_response("a")])
    runner.send("c1", "hi", user_id="u1", request_id="req-x")
    metas, _ = memory.list_conversations("u1")
    assert [m.conversation_id for m in metas] == ["c1"]
    _, turns, _ = memory.history("c1", user_id="u1")
    assert [t.role for t in turns] == ["user", "assistant"]
    window = memory.load("c1", user_id="u1")
    assert [t.number for t in window.turns] == [1, 2]


def test_a_huge_outcome_is_cut_to_fit_its_item_and_a_small_one_round_trips():
    action = ActionRequest(type="RefundOrder", action_id="a-1", detail={"blob": "x" * 300_000})
    small = AgentResult(
        status="completed",
        final_text="ok \ud800 é",
        stop_reason="end_turn",
        iterations=1,
        actions=[action.model_copy(update={"detail": {"k": 1}})],
    )
    assert AgentResult.from_receipt_json(small.receipt_json(MAX_OUTCOME_BYTES)) == small
    huge = small.model_copy(update={"final_text": '"é\n' * 400_000, "actions": [action]})
    text = huge.receipt_json(MAX_OUTCOME_BYTES)
    assert len(text.encode()) <= MAX_OUTCOME_BYTES
    back = AgentResult.from_receipt_json(text)
    assert back.truncated and huge.final_text.startswith(back.final_text) and back.final_text
    assert [(a.type, a.action_id) for a in back.actions] == [("RefundOrder", "a-1")]
    assert json.loads(text)["status"] == "completed"
