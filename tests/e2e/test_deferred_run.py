"""A synchronous run past the sync budget, through the deployed stack: 202, the continuation
runs from EventBridge, the turn completes, the refund its tool requested happens once."""

from __future__ import annotations

import pytest

from .conftest import item, wait_for


@pytest.fixture
def short_sync_budget(aws, outputs):
    """agent_executor deployed with a budget no run with a tool call fits in (restored after)."""
    lam = aws("lambda")
    name = outputs["function_names"]["agent_executor"]
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    short = {**env, "AGENTOCORE_SYNC_BUDGET_S": "0.001"}
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": short})
    yield
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})


def test_a_run_past_the_sync_budget_answers_202_and_completes_once(
    api, aws, outputs, captures, short_sync_budget
):
    conversation = "e2e-deferred"
    status, body = api.call(
        "POST",
        f"/conversations/{conversation}/messages",
        {"message": "Refund order A-1001, it arrived broken"},
    )
    assert status == 202, body
    assert body["status"] == "running" and body["scheduled"] is True
    assert [t["name"] for t in body["tool_calls"]] == ["trigger_refund"]
    [action] = body["actions"]

    done = captures["bus"].find(
        lambda e: (
            e.get("detail-type") == "AgentExecutionCompleted"
            and e["detail"]["invocation_id"] == body["invocation_id"]
        )
    )
    assert done["detail"]["status"] == "completed"
    assert done["detail"]["continuation"] is True

    status, conv = api.call("GET", body["result_url"])
    assert status == 200, conv
    assert conv["running_invocation"] is None
    assert [t["role"] for t in conv["turns"]] == ["user", "assistant", "user", "assistant"]
    assert "refund" in conv["turns"][-1]["content"][-1]["text"].lower()

    refund = wait_for(lambda: item(aws, outputs, f"REFUND#{action['action_id']}"))
    assert float(refund["amount"]["N"]) == 50
    captures["bus"].find(
        lambda e: (
            e.get("detail-type") == "ActionCompleted"
            and e["detail"]["action_id"] == action["action_id"]
        )
    )
    requested = [
        e
        for e in captures["bus"].poll()
        if e.get("detail-type") == "ActionRequested"
        and e["detail"].get("conversation_id") == conversation
    ]
    assert len(requested) == 1, requested  # the continuation did not ask again

    # the conversation takes new messages again
    status, body = api.call(
        "POST", f"/conversations/{conversation}/messages", {"message": "Thanks!"}
    )
    assert status in (200, 202), body
