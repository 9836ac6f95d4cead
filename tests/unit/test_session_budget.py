"""ConversationRunner: memory + loop + budgets + compaction, on moto DynamoDB."""

from __future__ import annotations

import pytest

from agentocore import (
    Agent,
    ConversationMemory,
    ConversationNotFound,
    ConversationRunner,
    ModelSummarizer,
    PricingTable,
    ScriptedModel,
    Settings,
    TurnConflict,
)
from agentocore.budget import Budget, ModelPrice, Spent
from agentocore.models.scripted import text_response, tool_use_response

from .outbox_view import OutboxView
from .sample_tools import build_registry

PRICED = PricingTable({"priced-model": ModelPrice(3.0, 15.0, 0.3, 3.75)})


def runner_for(table, dynamodb, steps, *, settings=None, summarizer=True):
    model = ScriptedModel(steps, model_id="priced-model")
    settings = settings or Settings()
    agent = Agent(
        model,
        build_registry(),
        settings=settings,
        pricing=PRICED,
        summarizer=ModelSummarizer(model) if summarizer else None,
    )
    memory = ConversationMemory(table, client=dynamodb, window_messages=settings.window_messages)
    return ConversationRunner(agent, memory), model, memory


def test_turn_is_saved_with_usage_totals(dynamodb, table, counter):
    runner, _model, memory = runner_for(
        table,
        dynamodb,
        [
            tool_use_response(
                ("t1", "trigger_refund", {"order_id": "A-1001", "reason": "arrived broken"}),
                input_tokens=1000,
                output_tokens=100,
            ),
            text_response("Your refund was requested.", input_tokens=1200, output_tokens=50),
        ],
    )
    counter.reset()
    outcome = runner.send(
        "c1", "Refund A-1001, it arrived broken", user_id="u1", agent_id="support"
    )
    assert counter.calls == ["GetItem", "TransactWriteItems"]  # new conversation: no Query
    result = outcome.result
    assert result.status == "completed"
    assert (outcome.saved, outcome.first_turn, outcome.turn_count) == (True, 1, 4)
    assert result.usage.input_tokens == 2200 and result.usage.output_tokens == 150
    expected_cost = (2200 * 3.0 + 150 * 15.0) / 1_000_000
    assert result.cost_usd == pytest.approx(expected_cost)
    assert [a.type for a in result.actions] == ["RefundRequested"]
    [requested] = OutboxView(dynamodb, table).actions  # saved with the turn, one transaction
    assert requested["conversation_id"] == "c1"
    meta = memory.get_meta("c1")
    assert (meta.input_tokens, meta.output_tokens, meta.turn_count) == (2200, 150, 4)
    assert meta.cost_usd == pytest.approx(expected_cost)


def test_second_turn_sees_history_and_costs_two_reads_one_write(dynamodb, table, counter):
    runner, model, _ = runner_for(
        table, dynamodb, [text_response("Hi Ann"), text_response("Your name is Ann")]
    )
    runner.send("c1", "I am Ann", user_id="u1")
    counter.reset()
    outcome = runner.send("c1", "What is my name?", user_id="u1")
    assert counter.calls == ["GetItem", "Query", "TransactWriteItems"]
    assert outcome.first_turn == 3
    sent = model.requests[1]["messages"]
    assert [m["content"][0]["text"] for m in sent] == ["I am Ann", "Hi Ann", "What is my name?"]


def test_budget_exhausted_before_the_run_writes_nothing(dynamodb, table):
    settings = Settings(budget_max_tokens=100)
    runner, model, _memory = runner_for(
        table,
        dynamodb,
        [text_response("expensive", input_tokens=90, output_tokens=20), text_response("never")],
        settings=settings,
    )
    first = runner.send("c1", "hello", user_id="u1")
    assert first.result.status == "completed"
    before = dynamodb.scan(TableName=table)["Items"]
    second = runner.send("c1", "hello again", user_id="u1")
    assert second.result.status == "budget_exceeded"
    assert second.result.iterations == 0
    assert "token budget exhausted: 110 of 100" in second.result.error
    assert second.saved is False
    assert model.remaining == 1  # the model was not called
    assert dynamodb.scan(TableName=table)["Items"] == before


def test_budget_stops_the_loop_mid_run_and_records_usage(dynamodb, table):
    settings = Settings(budget_max_usd=0.01)
    steps = [
        tool_use_response(("t1", "get_weather", {"location": "Oslo"}), input_tokens=4000),
        text_response("never reached"),
    ]
    runner, _model, memory = runner_for(table, dynamodb, steps, settings=settings)
    outcome = runner.send("c1", "weather?", user_id="u1")
    result = outcome.result
    assert result.status == "budget_exceeded"
    assert result.iterations == 1
    assert "cost budget exhausted" in result.error
    assert outcome.saved  # usage spent must be recorded
    assert memory.get_meta("c1").input_tokens == 4000
    assert result.messages[-1]["role"] == "assistant"


def test_budget_guard_on_the_agent_directly():
    agent = Agent(ScriptedModel([text_response("x")]), settings=Settings())
    result = agent.run("q", budget=Budget(max_tokens=1000), spent=Spent(tokens=1000))
    assert result.status == "budget_exceeded"
    assert result.messages == []


def test_other_users_conversation_is_not_found(dynamodb, table):
    runner, _, _ = runner_for(table, dynamodb, [text_response("hi")])
    runner.send("c1", "hello", user_id="alice")
    with pytest.raises(ConversationNotFound):
        runner.send("c1", "let me in", user_id="mallory")


def test_concurrent_save_is_retried_at_the_new_position(dynamodb, table):
    runner, _, memory = runner_for(table, dynamodb, [text_response("slow reply")])

    def sneak_in(request):
        # another request on the same conversation commits while this one is thinking
        memory.append(
            "c1",
            [
                {"role": "user", "content": [{"text": "other"}]},
                {"role": "assistant", "content": [{"text": "other reply"}]},
            ],
            expected_turn_count=0,
            user_id="u1",
        )
        return text_response("slow reply")

    runner.agent.model = ScriptedModel([sneak_in], model_id="priced-model")
    outcome = runner.send("c1", "mine", user_id="u1")
    assert outcome.conflicts == 1
    assert (outcome.first_turn, outcome.turn_count) == (3, 4)
    _, turns, _ = memory.history("c1", user_id="u1")
    assert [t.content[0]["text"] for t in turns] == ["other", "other reply", "mine", "slow reply"]


def test_conflict_after_retries_raises(dynamodb, table):
    runner, _, memory = runner_for(table, dynamodb, [text_response("r")])
    runner.conflict_retries = 0

    def sneak_in(request):
        memory.append(
            "c1",
            [
                {"role": "user", "content": [{"text": "o"}]},
                {"role": "assistant", "content": [{"text": "o"}]},
            ],
            expected_turn_count=0,
            user_id="u1",
        )
        return text_response("r")

    runner.agent.model = ScriptedModel([sneak_in], model_id="priced-model")
    with pytest.raises(TurnConflict):
        runner.send("c1", "mine", user_id="u1")


def test_compaction_summarizes_old_turns_when_the_window_grows(dynamodb, table, counter):
    settings = Settings(compaction_threshold_tokens=500, compaction_keep_messages=2)
    long_text = "word " * 150  # ~150 tokens per reply
    steps = []
    for i in range(4):
        steps.append(text_response(f"reply {i}: {long_text}"))
    steps.insert(3, text_response("SUMMARY: user sent messages 0-1"))  # compaction after turn 3
    runner, model, memory = runner_for(table, dynamodb, steps, settings=settings)
    outcomes = [runner.send("c1", f"message {i}", user_id="u1") for i in range(3)]
    assert [o.compacted for o in outcomes] == [False, False, True]
    meta = memory.get_meta("c1")
    assert meta.summary == "SUMMARY: user sent messages 0-1"
    assert meta.summary_upto == 4
    summary_request = model.requests[3]
    assert "message 0" in summary_request["messages"][0]["content"][0]["text"]
    # the next run sends the summary in the system prompt and only the newer turns
    runner.send("c1", "message 3", user_id="u1")
    last = model.requests[-1]
    assert "SUMMARY: user sent messages 0-1" in last["system"][-1]["text"]
    assert next(m["content"][0]["text"] for m in last["messages"]) == "message 2"
    # summarization usage is part of the conversation's totals
    assert memory.get_meta("c1").input_tokens == 50
