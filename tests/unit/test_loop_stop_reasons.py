"""Every Converse stopReason has a defined outcome."""

from __future__ import annotations

import itertools

import pytest

from agentocore import Agent, Settings
from agentocore.agent.loop import CONTINUE_PROMPT, SAFE_REFUSAL, TRUNCATED_TOOL_USE
from agentocore.memory.compaction import ModelSummarizer
from agentocore.models import ContextWindowExceeded, ModelError, ScriptedModel
from agentocore.models.scripted import response, text_response, tool_use_response

from .sample_tools import build_registry


def make_agent(steps, **settings):
    model = ScriptedModel(steps)
    agent = Agent(model, build_registry(), settings=Settings(**settings))
    return agent, model


def assert_alternating(messages):
    assert messages[0]["role"] == "user"
    assert messages[-1]["role"] == "assistant"
    for a, b in itertools.pairwise(messages):
        assert a["role"] != b["role"]


def test_end_turn_returns_final_text():
    agent, model = make_agent([text_response("Hello there", input_tokens=12, output_tokens=3)])
    result = agent.run("hi")
    assert result.status == "completed"
    assert result.stop_reason == "end_turn"
    assert result.final_text == "Hello there"
    assert result.iterations == 1
    assert result.usage.input_tokens == 12 and result.usage.output_tokens == 3
    assert result.elapsed_ms > 0
    assert_alternating(result.messages)
    request = model.requests[0]
    assert request["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
    assert request["system"][0]["text"] == agent.system_prompt
    assert request["inferenceConfig"] == {"maxTokens": 4096, "temperature": 0.2}
    assert {t["toolSpec"]["name"] for t in request["toolConfig"]["tools"]} >= {"get_weather"}


def test_tool_use_then_end_turn():
    agent, model = make_agent(
        [
            tool_use_response(("t1", "get_order_status", {"order_id": "A-1001"})),
            text_response("Order A-1001 was delivered."),
        ]
    )
    result = agent.run("Where is A-1001?")
    assert result.status == "completed"
    assert result.iterations == 2
    assert [c.name for c in result.tool_calls] == ["get_order_status"]
    assert result.tool_calls[0].status == "success"
    tool_result = model.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert tool_result["toolUseId"] == "t1"
    assert tool_result["status"] == "success"
    assert tool_result["content"][0]["json"]["status"] == "delivered"
    assert_alternating(result.messages)


def test_stop_sequence_is_a_completed_answer():
    agent, _ = make_agent([text_response("Answer: 42", stop_reason="stop_sequence")])
    result = agent.run("q")
    assert (result.status, result.stop_reason, result.final_text) == (
        "completed",
        "stop_sequence",
        "Answer: 42",
    )


def test_max_tokens_is_continued_then_joined():
    agent, model = make_agent(
        [text_response("The first half, ", "max_tokens"), text_response("and the second.")]
    )
    result = agent.run("long answer please")
    assert result.status == "completed"
    assert result.final_text == "The first half, and the second."
    assert model.requests[1]["messages"][-1]["content"][0]["text"] == CONTINUE_PROMPT
    assert not result.truncated
    assert_alternating(result.messages)


def test_max_tokens_without_continuations_returns_truncated_flag():
    agent, _ = make_agent([text_response("partial", "max_tokens")], max_tokens_continuations=0)
    result = agent.run("q")
    assert result.status == "truncated"
    assert result.truncated is True
    assert result.final_text == "partial"
    assert result.stop_reason == "max_tokens"


def test_max_tokens_cut_inside_a_tool_call_does_not_run_it():
    cut = response(
        [{"toolUse": {"toolUseId": "t1", "name": "get_order_status", "input": {}}}], "max_tokens"
    )
    agent, model = make_agent([cut, text_response("ok")])
    result = agent.run("q")
    assert result.tool_calls == []
    assert model.requests[1]["messages"][-1]["content"][0]["text"] == TRUNCATED_TOOL_USE
    assert result.status == "completed"
    assert_alternating(result.messages)


@pytest.mark.parametrize("reason", ["guardrail_intervened", "content_filtered"])
def test_guardrail_and_content_filter_give_a_flagged_safe_refusal(reason):
    agent, _ = make_agent([text_response("(blocked content)", reason)])
    result = agent.run("something bad")
    assert result.status == "refused"
    assert result.flagged is True
    assert result.final_text == SAFE_REFUSAL
    assert result.messages[-1] == {"role": "assistant", "content": [{"text": SAFE_REFUSAL}]}


@pytest.mark.parametrize("reason", ["malformed_model_output", "malformed_tool_use"])
def test_malformed_output_is_fed_back_once_then_recovers(reason):
    agent, model = make_agent([text_response("{{garbage", reason), text_response("Fixed answer")])
    result = agent.run("q")
    assert result.status == "completed"
    assert result.final_text == "Fixed answer"
    feedback = model.requests[1]["messages"][-1]
    assert feedback["role"] == "user"
    assert reason in feedback["content"][0]["text"]
    assert_alternating(result.messages)


@pytest.mark.parametrize("reason", ["malformed_model_output", "malformed_tool_use"])
def test_malformed_output_twice_fails_cleanly(reason):
    agent, model = make_agent([text_response("x", reason), text_response("y", reason)])
    result = agent.run("q")
    assert result.status == "failed"
    assert result.stop_reason == reason
    assert "twice" in result.error
    assert model.remaining == 0
    assert_alternating(result.messages)


def test_tool_use_stop_without_tool_blocks_counts_as_malformed():
    agent, model = make_agent(
        [text_response("I will call a tool", "tool_use"), text_response("ok")]
    )
    result = agent.run("q")
    assert result.status == "completed"
    assert "malformed_tool_use" in model.requests[1]["messages"][-1]["content"][0]["text"]


def history(n_exchanges):
    msgs = []
    for i in range(n_exchanges):
        msgs.append({"role": "user", "content": [{"text": f"question {i}"}]})
        msgs.append({"role": "assistant", "content": [{"text": f"answer {i}"}]})
    return msgs


def test_context_window_exceeded_compacts_history_and_retries_once():
    model = ScriptedModel(
        [
            text_response("", "model_context_window_exceeded"),
            text_response("Summary: the user asked 3 questions."),  # the summarizer's call
            text_response("Answer with less context"),
        ]
    )
    agent = Agent(model, build_registry(), summarizer=ModelSummarizer(model))
    result = agent.run("next question", history=history(3))
    assert result.status == "completed"
    assert result.final_text == "Answer with less context"
    assert result.compaction is not None
    assert result.compaction.covered_messages == 6
    retry_request = model.requests[2]
    assert retry_request["messages"] == [{"role": "user", "content": [{"text": "next question"}]}]
    assert "the user asked 3 questions" in retry_request["system"][-1]["text"]
    # the summarizer's usage counts
    assert result.usage.input_tokens == 30


def test_context_window_exceeded_twice_fails():
    model = ScriptedModel(
        [
            ContextWindowExceeded("Input is too long"),
            text_response("summary"),
            text_response("", "model_context_window_exceeded"),
        ]
    )
    agent = Agent(model, build_registry(), summarizer=ModelSummarizer(model))
    result = agent.run("q", history=history(2))
    assert result.status == "failed"
    assert result.stop_reason == "model_context_window_exceeded"
    assert "again after compaction" in result.error


def test_context_window_exceeded_without_history_fails_cleanly():
    agent, _ = make_agent([text_response("", "model_context_window_exceeded")])
    result = agent.run("q")
    assert result.status == "failed"
    assert "nothing to compact" in result.error


def test_unknown_stop_reason_is_a_clean_failure():
    agent, _ = make_agent([text_response("??", "brand_new_reason")])
    result = agent.run("q")
    assert result.status == "failed"
    assert result.stop_reason == "brand_new_reason"
    assert "unknown stopReason" in result.error
    assert_alternating(result.messages)


def test_model_error_is_a_failed_result_not_an_exception():
    agent, _ = make_agent([ModelError("AccessDeniedException: no access")])
    result = agent.run("q")
    assert result.status == "failed"
    assert "AccessDeniedException" in result.error
    assert result.messages == []  # nothing happened worth storing


def test_max_iterations_returns_structured_result():
    steps = [tool_use_response((f"t{i}", "get_weather", {"location": "Oslo"})) for i in range(3)]
    agent, model = make_agent(steps, max_iterations=3)
    result = agent.run("loop forever")
    assert result.status == "max_iterations"
    assert result.iterations == 3
    assert len(result.tool_calls) == 3
    assert result.error == "max iterations reached"
    assert "3 iterations" in result.final_text
    assert model.remaining == 0
    assert_alternating(result.messages)


def test_blank_text_blocks_are_not_sent_back():
    agent, model = make_agent(
        [
            response(
                [
                    {"text": "  "},
                    {
                        "toolUse": {
                            "toolUseId": "t1",
                            "name": "get_weather",
                            "input": {"location": "Oslo"},
                        }
                    },
                ],
                "tool_use",
            ),
            text_response(""),
        ]
    )
    result = agent.run("q")
    assert result.status == "completed"
    assert result.final_text == ""
    sent = model.requests[1]["messages"][1]["content"]
    assert sent == [
        {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"location": "Oslo"}}}
    ]
    assert result.messages[-1] == {"role": "assistant", "content": [{"text": "[empty]"}]}
