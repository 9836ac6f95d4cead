"""The ReAct loop over Converse: reason (model call), act (tools), observe (toolResults)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agentocore.agent import caching
from agentocore.agent.result import AgentResult, Compaction, RunStatus, ToolCallRecord
from agentocore.budget.daily import BudgetLedgerError, DailyBudgets, Hold
from agentocore.budget.gate import BudgetGate
from agentocore.budget.guard import Budget, BudgetStop, Spent, over_budget
from agentocore.budget.pricing import PricingTable
from agentocore.budget.usage import Usage
from agentocore.config import Settings
from agentocore.events.actions import ActionRequest, ActionSink
from agentocore.memory.window import ends_with_tool_results, is_user_text
from agentocore.models.base import ContextWindowExceeded, ModelError, ModelProvider
from agentocore.models.retry import Backoff
from agentocore.stream.assemble import assemble, stream_of
from agentocore.stream.events import (
    ActionRequested,
    EventSink,
    RunEvent,
    RunFinished,
    SafeSink,
    ToolUseEnd,
    ToolUseStart,
    UsageReport,
)
from agentocore.stream.text import StepText
from agentocore.tools.executor import ToolExecutor
from agentocore.tools.registry import ToolContext, ToolRegistry
from agentocore.types import ContentBlock, ConverseRequest, ConverseResponse, Message

log = logging.getLogger(__name__)

SAFE_REFUSAL = "I'm sorry, but I can't help with that request."
CONTINUE_PROMPT = (
    "Your reply was cut off by the output token limit. Continue exactly where it stopped."
)
TRUNCATED_TOOL_USE = (
    "Your reply was cut off by the output token limit in the middle of a tool call, so the call "
    "was not run. Make the call again with shorter input, or answer without it."
)
MALFORMED_FEEDBACK = (
    "Your previous reply could not be used (stopReason={reason}). Reply again. If you call a "
    "tool, give its input as a JSON object that matches the tool's input schema."
)


class Summarizer(Protocol):
    """Turns older messages (and an earlier summary) into a shorter summary."""

    def summarize(self, previous: str | None, messages: Sequence[Message]) -> tuple[str, Usage]:
        """Return the new summary and the model usage it cost."""
        ...


def text_of(message: Message) -> str:
    """The concatenated text blocks of a message."""
    return "".join(b["text"] for b in message.get("content", []) if "text" in b)


def _ignore(_: str) -> None:
    """Text nobody watches."""


def _safe(events: EventSink | None) -> EventSink | None:
    """The run's sink: a watcher's failure is logged, never the run's."""
    if events is None:
        return None
    return SafeSink(events, lambda exc: log.warning("run event not delivered: %s", exc))


def _assistant(text: str) -> Message:
    return {"role": "assistant", "content": [{"text": text}]}


def _user(text: str) -> Message:
    return {"role": "user", "content": [{"text": text}]}


class _Run:
    """Mutable state of one run.

    ``history`` is what came before this exchange (compaction may summarize it), ``carried``
    the exchange's messages already stored by a deferred run (a resumed run), ``new`` what this
    run adds.
    """

    def __init__(
        self,
        history: list[Message],
        new: list[Message],
        carried: Sequence[Message] = (),
        prior_iterations: int = 0,
        events: EventSink | None = None,
    ) -> None:
        self.events = events
        self.history = history
        self.carried = list(carried)
        self.new: list[Message] = new
        self.prior_iterations = prior_iterations
        self.usage = Usage()
        self.tool_calls: list[ToolCallRecord] = []
        self.actions: list[ActionRequest] = []
        self.iterations = 0
        self.responses = 0
        self.parts: list[str] = []
        self.malformed_retry_used = False
        self.compacted = False
        self.continuations = 0
        self.compaction: Compaction | None = None
        self.after_tools = False  # the last message is toolResults this run produced
        self.step_started: float | None = None
        self.longest_step = 0.0  # seconds: one model call plus the tools it asked for

    @property
    def messages(self) -> list[Message]:
        return self.history + self.carried + self.new

    def emit(self, event: RunEvent) -> None:
        if self.events is not None:
            self.events.emit(event)

    @property
    def last(self) -> Message | None:
        for part in (self.new, self.carried, self.history):
            if part:
                return part[-1]
        return None


class Agent:
    """A ReAct agent: one model provider, one tool registry, the settings' limits.

    ``run`` never raises for an expected outcome; the :class:`AgentResult` says what happened.
    Build one per process (Lambda cold start) and reuse it across invocations.

    Actions the run's tools request are collected on ``AgentResult.actions``; tools publish
    nothing. Standalone (no conversation memory), an ``action_sink`` publishes them after
    :meth:`run` / :meth:`resume` return from the loop (a failed publish raises; the action ids
    are deterministic, so running the same request again requests the same actions). A
    :class:`~agentocore.session.ConversationRunner` takes an agent without a sink: it writes
    the actions to the outbox in the transaction that saves the turn, and the relay publishes
    them, so a turn that fails to save requests nothing.
    """

    def __init__(
        self,
        model: ModelProvider,
        tools: ToolRegistry | None = None,
        *,
        settings: Settings | None = None,
        system_prompt: str | None = None,
        action_sink: ActionSink | None = None,
        pricing: PricingTable | None = None,
        daily_budgets: DailyBudgets | None = None,
        summarizer: Summarizer | None = None,
        backoff: Backoff | None = None,
        refusal_text: str = SAFE_REFUSAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        #: Monotonic seconds; deadlines passed to :meth:`run` / :meth:`resume` use this clock.
        self.clock = clock
        self.tools = tools or ToolRegistry()
        self.settings = settings or Settings()
        self.system_prompt = system_prompt or self.settings.system_prompt
        self.pricing = pricing or PricingTable.from_env()
        #: Before each model call: unpriced models, per user / per tenant daily reservations.
        self.gate = BudgetGate(daily_budgets, self.pricing, unpriced=self.settings.budget_unpriced)
        self.summarizer = summarizer
        self.backoff = backoff or Backoff()
        self.refusal_text = refusal_text
        self.action_sink = action_sink
        self.executor = ToolExecutor(
            self.tools,
            concurrency=self.settings.tool_concurrency,
            timeout_s=self.settings.tool_timeout_s,
        )
        self._cache_plan: caching.CachePlan | None = None
        self._inference = {
            "maxTokens": self.settings.max_tokens,
            "temperature": self.settings.temperature,
        }

    @property
    def cache_plan(self) -> caching.CachePlan:
        """Where cache points go; computed on first use from the static prefix."""
        if self._cache_plan is None:
            self._cache_plan = caching.plan(
                self.settings.prompt_caching,
                self.model.min_cache_tokens,
                self.tools.specs(),
                self.system_prompt,
            )
        return self._cache_plan

    def build_request(self, messages: list[Message], summary: str | None) -> ConverseRequest:
        """The Converse request for the current conversation state."""
        plan = self.cache_plan
        request: ConverseRequest = {
            "system": caching.system_blocks(self.system_prompt, summary, plan),
            "messages": messages,
            "inferenceConfig": self._inference,
        }
        tool_config = caching.tool_config(self.tools.specs(), plan)
        if tool_config is not None:
            request["toolConfig"] = tool_config
        return request

    def run(
        self,
        user_message: str | list[ContentBlock],
        *,
        history: Sequence[Message] = (),
        summary: str | None = None,
        context: ToolContext | None = None,
        budget: Budget | None = None,
        spent: Spent | None = None,
        deadline: float | None = None,
        events: EventSink | None = None,
    ) -> AgentResult:
        """Run the loop for one user message on top of ``history`` (a valid window).

        ``events``: where the run's :mod:`~agentocore.stream.events` go as they happen (text
        deltas, tool calls, actions, usage, the result); its failures never reach the run.

        ``deadline`` (:attr:`clock` seconds): before a model call that follows tool results,
        if less than the reserve is left (``sync_reserve_s``, or the longest step of this run
        when longer), the run stops as ``deferred``; its messages end with the user toolResult
        message and :meth:`resume` continues it. Tools never run twice.
        """
        content = [{"text": user_message}] if isinstance(user_message, str) else user_message
        run = _Run(list(history), [{"role": "user", "content": content}], events=_safe(events))
        return self._published(self._loop(run, summary, context, budget, spent, deadline))

    def resume(
        self,
        *,
        history: Sequence[Message],
        summary: str | None = None,
        context: ToolContext | None = None,
        budget: Budget | None = None,
        spent: Spent | None = None,
        deadline: float | None = None,
        iterations_used: int = 0,
        events: EventSink | None = None,
    ) -> AgentResult:
        """Continue a deferred run: ``history`` ends with the user toolResult message the
        deferred run stored; no user message is added and no tool runs again. The result's
        messages start with the assistant and end with it (whatever the status), so the stored
        history is complete again. ``iterations_used``: model calls the deferred part made
        (``max_iterations`` counts the whole exchange)."""
        if not ends_with_tool_results(history):
            raise ValueError("resume needs a history ending with a user toolResult message")
        start = max((i for i, m in enumerate(history) if is_user_text(m)), default=0)
        run = _Run(
            list(history[:start]),
            [],
            history[start:],
            prior_iterations=iterations_used,
            events=_safe(events),
        )
        return self._published(self._loop(run, summary, context, budget, spent, deadline))

    def _published(self, result: AgentResult) -> AgentResult:
        """Publish the run's actions through the standalone ``action_sink`` (if any)."""
        if self.action_sink is not None and result.actions:
            self.action_sink.publish(result.actions)
        return result

    def _loop(
        self,
        run: _Run,
        summary: str | None,
        context: ToolContext | None,
        budget: Budget | None,
        spent: Spent | None,
        deadline: float | None,
    ) -> AgentResult:
        started = time.perf_counter()
        ctx = context or ToolContext()
        budget = budget or Budget(self.settings.budget_max_tokens, self.settings.budget_max_usd)
        spent = spent or Spent()
        limit = self.settings.max_iterations - run.prior_iterations

        def finish(
            status: RunStatus,
            stop_reason: str | None,
            text: str,
            *,
            error: str | None = None,
            truncated: bool = False,
            flagged: bool = False,
            stop: BudgetStop | None = None,
        ) -> AgentResult:
            # Store the run if the model answered or anything was spent (e.g. a compaction), and
            # always a resumed one; stored history ends with an assistant message, except for a
            # deferred run, which ends with its toolResults until it is resumed.
            store = bool(run.responses or run.usage.total_tokens or run.carried)
            last = run.last
            if store and status != "deferred" and last is not None and last["role"] == "user":
                run.new.append(_assistant(text or f"[{status}]"))
            result = AgentResult(
                status=status,
                final_text=text,
                stop_reason=stop_reason,
                iterations=run.iterations,
                tool_calls=run.tool_calls,
                usage=run.usage,
                cost_usd=self.pricing.cost(self.model.model_id, run.usage),
                elapsed_ms=(time.perf_counter() - started) * 1000,
                model_id=self.model.model_id,
                truncated=truncated,
                flagged=flagged,
                error=error,
                messages=run.new if store else [],
                actions=run.actions,
                compaction=run.compaction,
                budget=stop,
            )
            run.emit(
                RunFinished(
                    status=result.status,
                    text=result.final_text,
                    stop_reason=result.stop_reason,
                    input_tokens=result.usage.input_tokens,
                    output_tokens=result.usage.output_tokens,
                    cost_usd=result.cost_usd,
                    error=result.error,
                )
            )
            return result

        def exhausted(stop: BudgetStop) -> AgentResult:
            message = stop.message
            return finish("budget_exceeded", None, f"Stopped: {message}.", error=message, stop=stop)

        while run.iterations < limit:
            cost = self.pricing.cost(self.model.model_id, run.usage)
            reason = over_budget(budget, spent, run.usage, cost)
            if reason:
                return exhausted(BudgetStop(budget="conversation", message=reason))
            now = self.clock()
            if run.step_started is not None:
                run.longest_step = max(run.longest_step, now - run.step_started)
            if deadline is not None and run.after_tools:
                reserve = max(self.settings.sync_reserve_s, run.longest_step)
                if deadline - now < reserve:
                    log.info(
                        "run deferred",
                        extra={"left_s": round(deadline - now, 3), "reserve_s": reserve},
                    )
                    return finish("deferred", None, "")
            request = self.build_request(run.messages, summary)
            try:
                hold = self.gate.admit(
                    self.model.model_id,
                    ctx.user_id,
                    request=request,
                    max_tokens=self.settings.max_tokens,
                    conversation_usd=budget.max_usd,
                )
            except BudgetLedgerError as exc:
                log.error("budget reservation failed", extra={"error": str(exc)})
                return finish("failed", None, "", error=str(exc))
            if isinstance(hold, BudgetStop):
                return exhausted(hold)
            run.step_started = now
            run.iterations += 1
            try:
                response = self._call(run, request, hold)
            except ContextWindowExceeded as exc:
                outcome = self._compact(run, summary, str(exc), ctx.user_id)
                if isinstance(outcome, str):
                    summary = outcome
                    continue
                return finish("failed", "model_context_window_exceeded", "", error=outcome[0])
            except ModelError as exc:
                log.error("model call failed", extra={"error": str(exc)})
                return finish("failed", None, "", error=f"model call failed: {exc}")
            run.after_tools = False

            stop = str(response.get("stopReason", ""))
            message = response.get("output", {}).get("message") or {}
            # Converse rejects blank text blocks when a message is sent back: drop them here.
            blocks: list[ContentBlock] = [
                b for b in message.get("content") or [] if "text" not in b or b["text"].strip()
            ]
            tool_uses = [b["toolUse"] for b in blocks if "toolUse" in b]

            if stop in ("tool_use", "end_turn") and tool_uses:
                run.new.append({"role": "assistant", "content": blocks})
                self._act(run, tool_uses, ctx)
                continue
            if stop in ("end_turn", "stop_sequence"):
                text = "".join(run.parts) + text_of(message)
                run.new.append({"role": "assistant", "content": blocks or [{"text": "[empty]"}]})
                return finish("completed", stop, text)
            if stop == "max_tokens":
                partial = text_of(message)
                run.parts.append(partial)
                kept = [b for b in blocks if "toolUse" not in b]
                run.new.append({"role": "assistant", "content": kept or [{"text": "[cut off]"}]})
                if run.continuations < self.settings.max_tokens_continuations:
                    run.continuations += 1
                    run.new.append(_user(TRUNCATED_TOOL_USE if tool_uses else CONTINUE_PROMPT))
                    continue
                return finish("truncated", stop, "".join(run.parts), truncated=True)
            if stop in ("guardrail_intervened", "content_filtered"):
                run.new.append(_assistant(self.refusal_text))
                return finish("refused", stop, self.refusal_text, flagged=True)
            if stop in ("malformed_model_output", "malformed_tool_use") or stop == "tool_use":
                stop = stop if stop != "tool_use" else "malformed_tool_use"  # tool_use w/o blocks
                texts = [b for b in blocks if "text" in b]
                run.new.append({"role": "assistant", "content": texts or [{"text": "[malformed]"}]})
                if run.malformed_retry_used:
                    return finish("failed", stop, "", error=f"model returned {stop} twice")
                run.malformed_retry_used = True
                run.new.append(_user(MALFORMED_FEEDBACK.format(reason=stop)))
                continue
            if stop == "model_context_window_exceeded":
                outcome = self._compact(run, summary, stop, ctx.user_id)
                if isinstance(outcome, str):
                    summary = outcome
                    continue
                return finish("failed", stop, "", error=outcome[0])
            run.new.append(_assistant("[unrecognised model stop]"))
            return finish("failed", stop or None, "", error=f"unknown stopReason {stop!r}")

        return finish(
            "max_iterations",
            None,
            f"Stopped after {run.iterations + run.prior_iterations} iterations without a final "
            "answer.",
            error="max iterations reached",
        )

    def _call(self, run: _Run, request: ConverseRequest, hold: Hold) -> ConverseResponse:
        """One model call (with retries) under ``hold``: settled with the real usage, or
        released when the call fails. Streamed (``settings.stream``) or not, its text reaches
        the run's events once: a retry sends only what the client does not have yet."""
        step = run.iterations
        text = StepText(step, run.events) if run.events is not None else None

        def once() -> ConverseResponse:
            if text is not None:
                text.new_attempt()
            if self.settings.stream:
                return assemble(stream_of(self.model, request), text.add if text else _ignore)
            answer = self.model.converse(request)
            if text is not None:
                text.add(text_of((answer.get("output") or {}).get("message") or {}))
            return answer

        try:
            response = self.backoff.call(once)
        except BaseException:
            hold.release()
            raise
        if text is not None:
            text.finish()
        usage = Usage.from_converse(response.get("usage"))
        cost = self.pricing.cost(self.model.model_id, usage)
        hold.settle(usage.total_tokens, cost)
        run.responses += 1
        run.usage = run.usage + usage
        run.emit(UsageReport(step, usage.input_tokens, usage.output_tokens, cost))
        return response

    def summarize(
        self,
        summarizer: Summarizer,
        previous: str | None,
        messages: Sequence[Message],
        user_id: str | None,
    ) -> tuple[str, Usage] | None:
        """One summarizer call under the daily budgets; None when they have no room left.
        Raises ModelError and BudgetLedgerError."""
        hold = self.gate.admit(
            self.model.model_id,
            user_id,
            messages=[*messages, _user(previous or "")],
            max_tokens=int(getattr(summarizer, "max_tokens", self.settings.max_tokens)),
        )
        if isinstance(hold, BudgetStop):
            log.warning("no budget left for a summary", extra={"budget": hold.budget})
            return None
        try:
            summary, usage = summarizer.summarize(previous, messages)
        except BaseException:
            hold.release()
            raise
        hold.settle(usage.total_tokens, self.pricing.cost(self.model.model_id, usage))
        return summary, usage

    def _act(self, run: _Run, tool_uses: list[dict[str, Any]], ctx: ToolContext) -> None:
        step = run.iterations
        for use in tool_uses:
            run.emit(ToolUseStart(step, str(use.get("toolUseId")), str(use.get("name"))))
        outcomes = self.executor.execute(tool_uses, ctx)
        run.new.append({"role": "user", "content": [o.result for o in outcomes]})
        for o in outcomes:
            record = ToolCallRecord(
                tool_use_id=o.tool_use_id,
                name=o.name,
                status=o.status,
                duration_ms=round(o.duration_ms, 3),
                error=o.error,
            )
            run.tool_calls.append(record)
            run.emit(ToolUseEnd(step, o.tool_use_id, o.name, o.status, record.duration_ms, o.error))
            if o.action is not None:
                run.actions.append(o.action)
                run.emit(
                    ActionRequested(o.action.action_id, o.action.type, o.action.needs_approval)
                )
        run.after_tools = True

    def _compact(
        self, run: _Run, summary: str | None, why: str, user_id: str | None
    ) -> str | tuple[str]:
        """Summarize the history once; the new summary, or ``(error,)`` when it cannot help."""
        if run.compacted:
            return (f"context window exceeded again after compaction ({why})",)
        if self.summarizer is None or not run.history:
            return (f"context window exceeded and nothing to compact ({why})",)
        run.compacted = True
        try:
            made = self.summarize(self.summarizer, summary, run.history, user_id)
        except (ModelError, BudgetLedgerError) as exc:
            return (f"context window exceeded; compaction failed: {exc}",)
        if made is None:
            return (f"context window exceeded; no budget left to compact ({why})",)
        new_summary, usage = made
        run.usage = run.usage + usage
        run.compaction = Compaction(summary=new_summary, covered_messages=len(run.history))
        run.history = []
        return new_summary
