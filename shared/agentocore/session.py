"""One conversational turn end to end: load the window, run the agent, save atomically, compact.

This is what every trigger (API, EventBridge, S3, SNS, schedule) calls; handlers stay thin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agentocore.agent.loop import Agent, Summarizer
from agentocore.agent.result import AgentResult
from agentocore.budget import tokens
from agentocore.budget.guard import Budget
from agentocore.memory.store import ConversationMemory, TurnConflict, Window
from agentocore.memory.window import StoredTurn, split_for_compaction
from agentocore.tools.registry import ToolContext
from agentocore.types import ContentBlock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnOutcome:
    """The agent's result plus what was persisted."""

    conversation_id: str
    result: AgentResult
    saved: bool
    first_turn: int | None
    turn_count: int
    compacted: bool = False
    conflicts: int = 0


class ConversationRunner:
    """Runs the agent on a stored conversation.

    ``send`` costs two DynamoDB requests to load (META + window Query; the budget check reads
    the same META item) and one TransactWriteItems to save; a concurrent writer makes the save
    fail cleanly, and it is retried at the new position up to ``conflict_retries`` times.
    """

    def __init__(
        self,
        agent: Agent,
        memory: ConversationMemory,
        *,
        summarizer: Summarizer | None = None,
        conflict_retries: int = 3,
        compact_after_save: bool = True,
    ) -> None:
        self.agent = agent
        self.memory = memory
        self.summarizer = summarizer or agent.summarizer
        self.conflict_retries = conflict_retries
        self.compact_after_save = compact_after_save

    def send(
        self,
        conversation_id: str,
        message: str | list[ContentBlock],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, str] | None = None,
        budget: Budget | None = None,
    ) -> TurnOutcome:
        """Run one user message; raises ConversationNotFound (another user's conversation) or
        TurnConflict (still conflicting after the retries)."""
        window = self.memory.load(conversation_id, user_id=user_id)
        ctx = ToolContext(
            conversation_id=conversation_id,
            user_id=user_id,
            agent_id=agent_id,
            metadata=metadata or {},
        )
        result = self.agent.run(
            message,
            history=window.messages,
            summary=window.summary,
            context=ctx,
            budget=budget,
            spent=window.meta.spent,
        )
        if not result.messages:
            return TurnOutcome(conversation_id, result, False, None, window.meta.turn_count)

        if result.compaction is not None:
            covered = window.turns[: result.compaction.covered_messages]
            if covered:
                self.memory.save_summary(
                    conversation_id, result.compaction.summary, upto=covered[-1].number
                )

        expected = window.meta.turn_count
        conflicts = 0
        while True:
            try:
                turn_count = self.memory.append(
                    conversation_id,
                    result.messages,
                    expected_turn_count=expected,
                    user_id=user_id,
                    agent_id=agent_id,
                    usage=result.usage,
                    cost_usd=result.cost_usd,
                    model_id=result.model_id,
                )
                break
            except TurnConflict:
                conflicts += 1
                if conflicts > self.conflict_retries:
                    raise
                expected = self.memory.get_meta(conversation_id).turn_count
        first_turn = turn_count - len(result.messages) + 1
        compacted = False
        if self.compact_after_save and conflicts == 0:
            compacted = self._compact_if_needed(window, result, first_turn)
        return TurnOutcome(
            conversation_id, result, True, first_turn, turn_count, compacted, conflicts
        )

    def _compact_if_needed(self, window: Window, result: AgentResult, first_turn: int) -> bool:
        """Summarize older turns when the next window would exceed the token threshold or the
        message limit, so the next load still sees every unsummarized turn."""
        settings = self.agent.settings
        if self.summarizer is None:
            return False
        base = window.turns
        if result.compaction is not None:
            base = window.turns[result.compaction.covered_messages :]
        new_turns = [
            StoredTurn(first_turn + i, m["role"], m["content"], tokens.count_message(m))
            for i, m in enumerate(result.messages)
        ]
        turns = base + new_turns
        estimate = sum(t.token_estimate for t in turns)
        limit = self.memory.window_messages - (2 * settings.max_iterations + 1)
        if estimate <= settings.compaction_threshold_tokens and len(turns) <= max(
            limit, 2 * settings.compaction_keep_messages
        ):
            return False
        split = split_for_compaction(turns, settings.compaction_keep_messages)
        if split == 0:
            return False
        summary_before = result.compaction.summary if result.compaction else window.summary
        try:
            summary, usage = self.summarizer.summarize(
                summary_before, [t.message for t in turns[:split]]
            )
        except Exception:
            log.exception("compaction failed; the next load sees the newest turns only")
            return False
        cost = self.agent.pricing.cost(self.agent.model.model_id, usage)
        return self.memory.save_summary(
            window.meta.conversation_id,
            summary,
            upto=turns[split - 1].number,
            usage=usage,
            cost_usd=cost,
        )
