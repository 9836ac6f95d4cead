"""The suite's checks catch what they promise: each planted bug (a production method patched
to misbehave, no faults injected) is reported under its invariant, and a clean run reports
nothing. ``make faults`` runs these first."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agentocore.memory.store import ConversationMemory
from tests.faults.suite import Config, Outcome, quiet, run_conversation

#: seed 14: refunds of A-2002 (needs an approval), A-3003 (async) and A-1001, a cancellation
#: the tool refuses
SEED = 14
CLEAN = Config(model_rate=0, client_rate=0, turns=(4, 4), async_share=0.3)


@pytest.fixture(autouse=True)
def _quiet() -> None:
    quiet()


def kinds(outcome: Outcome) -> set[str]:
    return {v.kind for v in outcome.violations}


def test_a_clean_run_reports_no_violation() -> None:
    outcome = run_conversation(SEED, CLEAN)
    assert outcome.violations == []
    assert outcome.invocations["agent_executor"] >= 4
    assert outcome.events["ActionRequested"] >= 1  # the scenario reaches the workers


def test_a_turn_saved_twice_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    original = ConversationMemory.append

    def twice(self: ConversationMemory, cid: str, messages: Any, **kw: Any) -> int:
        count: int = original(self, cid, messages, **kw)
        kw = {**kw, "expected_turn_count": count, "actions": (), "receipt": None}
        return int(original(self, cid, messages, **kw))

    monkeypatch.setattr(ConversationMemory, "append", twice)
    assert "stored_once" in kinds(run_conversation(SEED, CLEAN))


def test_a_tool_result_dropped_from_the_save_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    original = ConversationMemory.append

    def drop(self: ConversationMemory, cid: str, messages: Any, **kw: Any) -> int:
        kept = [m for m in messages if not any("toolResult" in b for b in m["content"])]
        return int(original(self, cid, kept or messages, **kw))

    monkeypatch.setattr(ConversationMemory, "append", drop)
    assert "history" in kinds(run_conversation(SEED, CLEAN))


def test_usage_not_added_to_the_totals_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    original = ConversationMemory.append

    def halved(self: ConversationMemory, cid: str, messages: Any, **kw: Any) -> int:
        usage = kw.get("usage")
        if usage is not None:
            kw["usage"] = usage.model_copy(update={"output_tokens": usage.output_tokens // 2})
        return int(original(self, cid, messages, **kw))

    monkeypatch.setattr(ConversationMemory, "append", halved)
    assert "usage_totals" in kinds(run_conversation(SEED, CLEAN))


def test_an_action_performed_without_its_approval_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rules that route every refund to standard_worker, which no longer checks the rule."""
    from agentocore.actions import routing
    from agentocore.events.actions import ACTION_SOURCE, REQUEST_DETAIL_TYPE
    from agentocore.events.contracts import ActionRequested
    from agentocore.workers.perform import ActionWorker

    def standard_only(action: Any) -> dict[str, Any]:
        pattern = {
            "source": [ACTION_SOURCE],
            "detail-type": [REQUEST_DETAIL_TYPE],
            "detail": {"action_type": [action.name]},
        }
        return {"standard_worker": pattern, "approval_worker": None}

    original = ActionWorker.handle

    def unchecked(self: ActionWorker, event: Any) -> dict[str, Any]:
        if isinstance(event, ActionRequested):
            return self._perform(event, approved_by=None)
        return original(self, event)

    monkeypatch.setattr(routing, "routes", standard_only)
    monkeypatch.setattr(ActionWorker, "handle", unchecked)
    outcome = run_conversation(SEED, CLEAN)
    assert any("without an approved approval" in v.message for v in outcome.violations)


def test_an_unexpected_exception_behind_a_json_500_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentocore.api import AgentApi

    def broken(self: AgentApi, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(AgentApi, "post_message", broken)
    assert "http_internal_error" in kinds(run_conversation(SEED, CLEAN))


def test_an_exception_out_of_an_http_handler_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.faults.stack import handlers

    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(handlers()["approval_worker"].app, "resolve", broken)
    assert "http_exception" in kinds(run_conversation(SEED, CLEAN))


def test_a_lost_action_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A relay that marks items published without putting their events loses the action."""
    from agentocore.events import outbox

    monkeypatch.setattr(outbox, "put_events", lambda client, entries: [])
    outcome = run_conversation(SEED, CLEAN)
    assert any(" lost" in v.message for v in outcome.violations)


def test_a_rejection_without_its_note_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentocore.workers.decisions import ApprovalDecisions

    monkeypatch.setattr(ApprovalDecisions, "_note_rejection", lambda self, approval: None)
    outcome = run_conversation(SEED, replace(CLEAN, approve_chance=0.0))
    assert any("without its rejection note" in v.message for v in outcome.violations)


def test_the_same_seed_replays_the_same_faults() -> None:
    config = Config(model_rate=0.3, client_rate=0.1, turns=(3, 3))
    first, second = run_conversation(11, config), run_conversation(11, config)
    assert first.injected == second.injected and sum(first.injected.values()) > 0
    assert [v.message for v in first.violations] == [v.message for v in second.violations]
