"""agent_executor: the per user daily budget answers 429 naming the budget and its reset."""

from __future__ import annotations

import re

from agentocore.models.scripted import text_response

from .conftest import LambdaContext, http_event, install_runtime, load_function, response_json

fn = load_function("agent_executor")


def post(conversation_id, body, **kwargs):
    event = http_event("POST", f"/conversations/{conversation_id}/messages", body=body, **kwargs)
    return response_json(fn.handler(event, LambdaContext()))


def test_the_user_daily_budget_is_429_with_the_budget_and_its_reset(stack):
    model = install_runtime(
        fn,
        [text_response("costly", input_tokens=3600, output_tokens=0), text_response("other")],
        budget_user_daily_tokens=3500,
        max_tokens=100,
    )
    assert post("c1", {"message": "first"})[0] == 200
    before = stack.items()
    status, err = post("c2", {"message": "a new conversation id"})  # no fresh budget
    assert status == 429
    error = err["error"]
    assert (error["code"], error["budget"]) == ("budget_exceeded", "user_daily")
    assert "user daily token budget exhausted: 3600 of 3500" in error["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", error["resets_at"])
    status, err = post("c3", {"message": "queued", "async": True})  # used up: refused too
    assert (status, err["error"]["budget"]) == (429, "user_daily")
    assert stack.items() == before and model.remaining == 1
    assert post("c4", {"message": "hi"}, sub="user-b")[0] == 200  # another user's own budget


def test_the_conversation_budget_is_429_without_a_reset(stack):
    install_runtime(
        fn, [text_response("costly", input_tokens=600, output_tokens=0)], budget_max_tokens=500
    )
    assert post("c1", {"message": "first"})[0] == 200
    status, err = post("c1", {"message": "second"})
    assert status == 429
    assert (err["error"]["budget"], err["error"]["resets_at"]) == ("conversation", None)


def test_an_event_triggered_run_reports_the_budget_that_stopped_it(stack):
    from .conftest import eventbridge_event

    install_runtime(
        fn,
        [text_response("costly", input_tokens=3600, output_tokens=0)],
        budget_user_daily_tokens=3500,
        max_tokens=100,
    )
    assert post("c1", {"message": "first"})[0] == 200
    detail = {
        "invocation_id": "inv-budget",
        "conversation_id": "c9",
        "user_message": "more",
        "user_id": "user-a",
    }
    out = fn.handler(
        eventbridge_event("AgentInvocationRequested", detail, "agentocore.agent"), LambdaContext()
    )
    assert (out["status"], out["budget"]) == ("budget_exceeded", "user_daily")
    [completed] = stack.bus_events("AgentExecutionCompleted")
    assert completed["detail"]["budget"] == "user_daily"
