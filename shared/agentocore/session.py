"""One conversational turn end to end: load the window, run the agent, save atomically, compact.

This is what every trigger (API, EventBridge, S3, SNS, schedule) calls; handlers stay thin.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from typing import Literal

from agentocore.agent.loop import Agent, Summarizer
from agentocore.agent.result import AgentResult
from agentocore.budget import tokens
from agentocore.budget.guard import Budget
from agentocore.memory.receipts import MAX_OUTCOME_BYTES, Receipt
from agentocore.memory.store import (
    Continuation,
    ConversationBusy,
    ConversationMemory,
    ConversationNotFound,
    TurnConflict,
    Window,
)
from agentocore.memory.window import (
    StoredTurn,
    ends_with_tool_results,
    is_user_text,
    split_for_compaction,
)
from agentocore.stream.events import EventSink, LoggedEvent
from agentocore.stream.log import EventLog, EventLogWriter
from agentocore.tools.registry import ToolContext
from agentocore.types import ContentBlock, Message

log = logging.getLogger(__name__)
#: When a run's events are logged: as they happen, or only if the run is deferred or fails.
LogEvents = Literal["always", "if_deferred", "live"]


def _failure_message(error: str) -> Message:
    return {"role": "assistant", "content": [{"text": f"[failed: {error}]"}]}


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
    #: The turn of the user message that started this exchange (``first_turn`` for ``send``;
    #: earlier for a continuation).
    exchange_turn: int | None = None
    #: A deferred run's continuation, pending on the conversation (``result.status ==
    #: "deferred"``): publish ``AgentInvocationRequested(continuation=True)`` for it.
    running: Continuation | None = None
    #: Answered from the receipt of an earlier delivery of the same request, which saved the
    #: exchange: nothing ran or was stored now (``result.messages`` is empty).
    replayed: bool = False

    @property
    def deferred(self) -> bool:
        return self.running is not None


def turn_request_id(conversation_id: str, user_turn: int) -> str:
    """The request scope of a run that has no invocation id: its conversation and the turn
    number of its user message."""
    return f"{conversation_id}#turn{user_turn}"


class ConversationRunner:
    """Runs the agent on a stored conversation.

    ``send`` costs two DynamoDB requests to load (META + window Query; the budget check reads
    the same META item) and one TransactWriteItems to save; a concurrent writer makes the save
    fail cleanly, and it is retried at the new position up to ``conflict_retries`` times.

    With a ``deadline`` a run may stop as ``deferred`` after tool results: its messages are
    saved in the same one transaction, which also marks the continuation pending on META;
    :meth:`resume` (the continuation's invocation) runs the rest and clears the mark in its
    own one transaction. While a continuation is pending, ``send`` raises
    :class:`ConversationBusy`.

    The actions a run requests are written to the outbox by the same transaction that saves
    its turns (``ConversationMemory.append(actions=...)``); the outbox relay publishes them
    from the table's stream. A run whose save fails requests nothing, so the agent must not
    have an ``action_sink`` of its own.

    A request with an id (``request_id``; a continuation's invocation id) is saved with its
    receipt (:mod:`agentocore.memory.receipts`, one GetItem before the run): a retry of a
    request whose exchange is stored is answered from the receipt (``replayed``) without
    running or storing anything, whatever failed after the save committed. With
    ``retry_failed`` a failed run's receipt does not answer: the request runs again.
    """

    def __init__(
        self,
        agent: Agent,
        memory: ConversationMemory,
        *,
        summarizer: Summarizer | None = None,
        conflict_retries: int = 3,
        compact_after_save: bool = True,
        event_log: EventLog | None = None,
    ) -> None:
        if agent.action_sink is not None:
            raise ValueError(
                "ConversationRunner publishes actions through the outbox saved with the turn: "
                "build its Agent without an action_sink"
            )
        self.agent = agent
        self.memory = memory
        self.summarizer = summarizer or agent.summarizer
        self.conflict_retries = conflict_retries
        self.compact_after_save = compact_after_save
        #: Where each run's events are logged (numbered, per conversation); None: not logged.
        self.event_log = event_log

    def send(
        self,
        conversation_id: str,
        message: str | list[ContentBlock],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, str] | None = None,
        budget: Budget | None = None,
        deadline: float | None = None,
        priority: str = "normal",
        request_id: str | None = None,
        retry_failed: bool = False,
        events: EventSink | None = None,
        log_events: LogEvents = "always",
    ) -> TurnOutcome:
        """Run one user message; raises ConversationNotFound (another user's conversation),
        ConversationBusy (a continuation is pending) or TurnConflict (still conflicting after
        the retries). ``deadline`` (the agent's clock): see :meth:`Agent.run`; ``priority``
        goes with a deferred run's continuation. ``request_id`` scopes the ids of the actions
        the run requests (an invocation id; default: conversation + the new user turn) and
        identifies the request's receipt. ``retry_failed``: a stored failed run of the request
        does not answer it, the request runs again (a client retrying after a 502; a
        redelivered event gets the failure it already had). ``events``: the run's events as
        they happen (after the event log has numbered them, when there is one).
        ``log_events="if_deferred"``: the run's events are logged only if it is deferred (a
        synchronous answer carries the rest); ``"live"``: always, in small batches (someone
        watches over a socket)."""
        replaces = None
        if request_id is not None:
            stored = self._stored(conversation_id, request_id, user_id)
            if stored is not None and not (stored.failed and retry_failed):
                return self._replay(conversation_id, stored)
            replaces = stored.first_turn if stored is not None else None
        window = self.memory.load(conversation_id, user_id=user_id)
        if window.meta.running is not None:
            raise ConversationBusy(conversation_id, window.meta.running)
        ctx = ToolContext(
            conversation_id=conversation_id,
            user_id=user_id,
            agent_id=agent_id,
            metadata=metadata or {},
            request_id=request_id or turn_request_id(conversation_id, window.meta.turn_count + 1),
        )
        sink = self._events(conversation_id, user_id, ctx.request_id, events, log_events)
        try:
            result = self.agent.run(
                message,
                history=window.messages,
                summary=window.summary,
                context=ctx,
                budget=budget,
                spent=window.meta.spent,
                deadline=deadline,
                events=sink,
            )
        except BaseException:
            _flush(sink, persist=True)
            raise
        keep = result.status in ("deferred", "failed")
        if not result.messages:
            _flush(sink, persist=keep)
            return TurnOutcome(conversation_id, result, False, None, window.meta.turn_count)
        try:
            outcome = self._save(
                window,
                result,
                request_id,
                replaces,
                retry_failed,
                user_id,
                agent_id,
                priority,
                deadline,
            )
        except BaseException:
            _flush(sink, discard=True)  # not kept: its retry logs the run anew
            raise
        # lost the race: the winner's result is logged, not this one's
        _flush(sink, persist=keep, discard=outcome.replayed, turn=outcome.exchange_turn)
        return outcome

    def _save(
        self,
        window: Window,
        result: AgentResult,
        request_id: str | None,
        replaces: int | None,
        retry_failed: bool,
        user_id: str | None,
        agent_id: str | None,
        priority: str,
        deadline: float | None,
    ) -> TurnOutcome:
        """Store the run (with its receipt), retrying turn conflicts; the outcome, or the
        winning delivery's when another saved the same request first (``replayed``)."""
        conversation_id = window.meta.conversation_id

        self._save_run_summary(window, result)
        running = None
        if result.status == "deferred":
            running = Continuation(
                invocation_id=str(uuid.uuid4()),
                agent_id=agent_id or "default",
                priority=priority,
                iterations=result.iterations,
            )
        receipt = None
        if request_id is not None:
            receipt = self._receipt(request_id, result, user_id, running=running)
            receipt = replace(receipt, replaces_turn=replaces)
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
                    start_running=running,
                    actions=result.actions,
                    receipt=receipt,
                )
                break
            except TurnConflict:
                if receipt is not None:
                    stored = self._stored(conversation_id, receipt.request_id, user_id)
                    if stored is not None and not (stored.failed and retry_failed):
                        return self._replay(conversation_id, stored)  # another delivery won
                    if stored is not None:
                        receipt = replace(receipt, replaces_turn=stored.first_turn)
                conflicts += 1
                meta = self.memory.get_meta(conversation_id)
                if meta.running is not None:
                    raise ConversationBusy(conversation_id, meta.running) from None
                if conflicts > self.conflict_retries:
                    raise
                expected = meta.turn_count
        first_turn = turn_count - len(result.messages) + 1
        compacted = False
        if (
            running is None
            and self.compact_after_save
            and conflicts == 0
            and self._time_left(deadline)
        ):
            compacted = self._compact_if_needed(window, result, first_turn, user_id)
        return TurnOutcome(
            conversation_id,
            result,
            True,
            first_turn,
            turn_count,
            compacted,
            conflicts,
            exchange_turn=first_turn,
            running=running,
        )

    def _events(
        self,
        conversation_id: str,
        user_id: str | None,
        run_id: str | None,
        events: EventSink | None,
        log_events: LogEvents,
    ) -> EventSink | None:
        """The run's sink: the event log's writer (``events`` listening to what it stored),
        else ``events`` itself."""
        if self.event_log is None:
            return events
        writer = self.event_log.writer(
            conversation_id,
            owner=user_id,
            run_id=run_id,
            held=log_events == "if_deferred",
            live=log_events == "live",
        )
        if events is not None:
            writer.listeners.append(lambda record: events.emit(LoggedEvent(record)))
        return writer

    def resume(
        self,
        conversation_id: str,
        invocation_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, str] | None = None,
        budget: Budget | None = None,
        events: EventSink | None = None,
    ) -> TurnOutcome | None:
        """Continue the deferred run whose continuation ``invocation_id`` is pending: load the
        window ending with its toolResults, run the loop without a new user message, save the
        rest and clear the mark in one transaction. When ``invocation_id`` is not the pending
        continuation: its receipt's outcome (``replayed``) if it finished, else None (nothing
        done: redelivered after an unsaved end, unknown). Whatever the run's status, the stored
        history ends with an assistant message afterwards. Raises ConversationNotFound for
        another user's conversation."""
        window = self.memory.load(conversation_id, user_id=user_id, open_turn=True)
        meta = window.meta
        running = meta.running
        if running is None or running.invocation_id != invocation_id:
            stored = self._stored(conversation_id, invocation_id, user_id)
            if stored is not None:
                return self._replay(conversation_id, stored)
            log.info(
                "no such continuation pending; nothing to do",
                extra={"conversation_id": conversation_id, "invocation_id": invocation_id},
            )
            return None
        exchange_turn = next((t.number for t in reversed(window.turns) if is_user_text(t)), None)
        complete = bool(window.turns) and window.turns[-1].number == meta.turn_count
        if not (complete and ends_with_tool_results(window.messages)):
            return self._close_unresumable(window, running, user_id, exchange_turn)
        ctx = ToolContext(
            conversation_id=conversation_id,
            user_id=user_id or meta.user_id,
            agent_id=agent_id or running.agent_id,
            metadata=metadata or {},
            # the deferred HTTP request's scope: a re-run continuation mints the same actions
            request_id=turn_request_id(conversation_id, exchange_turn or meta.turn_count),
        )
        sink = self._events(conversation_id, ctx.user_id, invocation_id, events, "always")
        try:
            result = self.agent.resume(
                history=window.messages,
                summary=window.summary,
                context=ctx,
                budget=budget,
                spent=meta.spent,
                iterations_used=running.iterations,
                events=sink,
            )
        except BaseException:
            _flush(sink, persist=True)
            raise
        self._save_run_summary(window, result)
        try:
            turn_count = self._finish(window, result, running, user_id, exchange_turn)
        except BaseException:
            _flush(sink, discard=True)
            raise
        _flush(sink, discard=turn_count is None, turn=exchange_turn or None)
        if turn_count is None:
            stored = self._stored(conversation_id, invocation_id, user_id)
            return self._replay(conversation_id, stored) if stored is not None else None
        first_turn = turn_count - len(result.messages) + 1
        compacted = self.compact_after_save and self._compact_if_needed(
            window, result, first_turn, ctx.user_id
        )
        return TurnOutcome(
            conversation_id,
            result,
            True,
            first_turn,
            turn_count,
            compacted,
            exchange_turn=exchange_turn,
        )

    def _finish(
        self,
        window: Window,
        result: AgentResult,
        running: Continuation,
        user_id: str | None,
        exchange_turn: int | None,
    ) -> int | None:
        """Save a continuation's messages with its receipt and clear its mark (one
        transaction); None when the mark is gone (another delivery finished it)."""
        conversation_id = window.meta.conversation_id
        expected = window.meta.turn_count
        attempts = 0
        receipt = replace(
            self._receipt(running.invocation_id, result, user_id or window.meta.user_id),
            exchange_turn=exchange_turn,
        )
        while True:
            try:
                return self.memory.append(
                    conversation_id,
                    result.messages,
                    expected_turn_count=expected,
                    user_id=user_id,
                    usage=result.usage,
                    cost_usd=result.cost_usd,
                    model_id=result.model_id,
                    finish_running=running.invocation_id,
                    actions=result.actions,
                    receipt=receipt,
                )
            except TurnConflict:
                attempts += 1
                meta = self.memory.get_meta(conversation_id)
                if meta.running is None or meta.running.invocation_id != running.invocation_id:
                    log.warning(
                        "continuation finished by another delivery; this run is not saved",
                        extra={"invocation_id": running.invocation_id},
                    )
                    return None
                # Still ours: only a transient conflict (e.g. a summary written meanwhile) can
                # be retried; new turns behind a pending continuation are a bug.
                if meta.turn_count != expected or attempts > self.conflict_retries:
                    raise

    def _close_unresumable(
        self,
        window: Window,
        running: Continuation,
        user_id: str | None,
        exchange_turn: int | None,
    ) -> TurnOutcome:
        """The stored turns do not end with the deferred run's toolResults (e.g. expired, or a
        window too small for the exchange): end the exchange with a failure notice and clear
        the mark, so the conversation is usable again."""
        meta = window.meta
        error = "the deferred run could not be continued: its stored turns are incomplete"
        log.error(error, extra={"conversation_id": meta.conversation_id})
        ends_with_assistant = (
            bool(window.turns)
            and window.turns[-1].number == meta.turn_count
            and window.turns[-1].role == "assistant"
        )
        messages = [] if ends_with_assistant else [_failure_message(error)]
        result = AgentResult(
            status="failed",
            final_text="",
            stop_reason=None,
            iterations=0,
            error=error,
            model_id=self.agent.model.model_id,
            messages=messages,
        )
        if not messages:
            self.memory.clear_running(meta.conversation_id, running.invocation_id)
            return TurnOutcome(
                meta.conversation_id,
                result,
                True,
                None,
                meta.turn_count,
                exchange_turn=exchange_turn,
            )
        turn_count = self._finish(window, result, running, user_id, exchange_turn)
        if turn_count is None:
            return TurnOutcome(meta.conversation_id, result, False, None, meta.turn_count)
        return TurnOutcome(
            meta.conversation_id,
            result,
            True,
            turn_count,
            turn_count,
            exchange_turn=exchange_turn,
        )

    def _stored(self, conversation_id: str, request_id: str, user_id: str | None) -> Receipt | None:
        """The receipt of ``request_id``; ConversationNotFound when another user saved it."""
        receipt = self.memory.get_receipt(conversation_id, request_id)
        if receipt is not None and user_id is not None and receipt.owner != user_id:
            raise ConversationNotFound(conversation_id)
        return receipt

    @staticmethod
    def _receipt(
        request_id: str,
        result: AgentResult,
        owner: str | None,
        *,
        running: Continuation | None = None,
    ) -> Receipt:
        return Receipt(
            request_id=request_id,
            outcome=result.receipt_json(MAX_OUTCOME_BYTES),
            owner=owner,
            failed=result.status == "failed",
            running_invocation=running.invocation_id if running else None,
            running_agent_id=running.agent_id if running else None,
            running_priority=running.priority if running else None,
            running_iterations=running.iterations if running else 0,
        )

    @staticmethod
    def _replay(conversation_id: str, receipt: Receipt) -> TurnOutcome:
        """The outcome a saved request answered with (its retry's answer)."""
        running = None
        if receipt.running_invocation is not None:
            running = Continuation(
                invocation_id=receipt.running_invocation,
                agent_id=receipt.running_agent_id or "default",
                priority=receipt.running_priority or "normal",
                iterations=receipt.running_iterations,
            )
        log.info(
            "request already saved; answering from its receipt",
            extra={"conversation_id": conversation_id, "turn": receipt.first_turn},
        )
        return TurnOutcome(
            conversation_id,
            AgentResult.from_receipt_json(receipt.outcome),
            True,
            receipt.first_turn,
            receipt.turn_count,
            exchange_turn=receipt.exchange_turn or receipt.first_turn,
            running=running,
            replayed=True,
        )

    def _save_run_summary(self, window: Window, result: AgentResult) -> None:
        """Persist a summary the run made (context window exceeded) before its turns."""
        if result.compaction is not None:
            covered = window.turns[: result.compaction.covered_messages]
            if covered:
                self.memory.save_summary(
                    window.meta.conversation_id, result.compaction.summary, upto=covered[-1].number
                )

    def _time_left(self, deadline: float | None) -> bool:
        """Whether post-save work (a compaction's model call) still fits before ``deadline``;
        when it does not, the next run compacts instead."""
        if deadline is None:
            return True
        return deadline - self.agent.clock() >= self.agent.settings.sync_reserve_s

    def _compact_if_needed(
        self, window: Window, result: AgentResult, first_turn: int, user_id: str | None
    ) -> bool:
        """Summarize older turns when the next window would exceed the token threshold or the
        message limit, so the next load still sees every unsummarized turn. The summary's model
        call counts on the daily budgets; without room the next run compacts instead."""
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
            made = self.agent.summarize(
                self.summarizer, summary_before, [t.message for t in turns[:split]], user_id
            )
        except Exception:
            log.exception("compaction failed; the next load sees the newest turns only")
            return False
        if made is None:
            return False
        summary, usage = made
        cost = self.agent.pricing.cost(self.agent.model.model_id, usage)
        return self.memory.save_summary(
            window.meta.conversation_id,
            summary,
            upto=turns[split - 1].number,
            usage=usage,
            cost_usd=cost,
        )


def _flush(
    sink: EventSink | None,
    *,
    persist: bool = False,
    discard: bool = False,
    turn: int | None = None,
) -> None:
    """Write what the event log still holds; a held log (``if_deferred``) is written when
    ``persist`` (the run was deferred or failed), else forgotten; ``discard``: forget it (the
    run was not saved). ``turn``: the saved exchange's first turn, noted on the ``result`` (a
    client matches the run with the stored turns by it). A failure is logged: the run stands."""
    if not isinstance(sink, EventLogWriter):
        return
    try:
        if turn is not None:
            sink.note_result(turn=turn)
        if discard:
            sink.discard()
        elif persist:
            sink.persist()
        elif sink.held:
            sink.discard()
        else:
            sink.flush()
    except Exception:
        log.warning("run events not flushed", exc_info=True)
