"""Runs the toolUse blocks of one assistant message: validated, concurrent, time-limited."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from agentocore.actions.catalog import ActionCatalog, ActionError
from agentocore.events.actions import ActionRequest, call_key
from agentocore.tools import results
from agentocore.tools.registry import Tool, ToolContext, ToolError, ToolRegistry
from agentocore.types import ContentBlock

log = logging.getLogger(__name__)

ToolStatus = Literal[
    "success", "unknown_tool", "invalid_input", "error", "timeout", "invalid_output", "unavailable"
]

#: What a call produced: status, ``toolResult`` block, error message, accepted action.
_Result = tuple[ToolStatus, ContentBlock, str | None, ActionRequest | None]

#: Default bound on abandoned calls still running, per executor: ``4 * concurrency``.
ABANDONED_PER_SLOT = 4


@dataclass(frozen=True)
class ToolOutcome:
    """One executed toolUse: the ``toolResult`` block to send back and what happened."""

    tool_use_id: str
    name: str
    status: ToolStatus
    duration_ms: float
    result: ContentBlock
    error: str | None = None
    action: ActionRequest | None = None


class _Job:
    """One call's shared state. ``lock`` orders the two racing outcomes of an action tool: it
    either has its action accepted into the run (``committed``, the model is told) or is
    abandoned at its timeout first (``abandoned``, its late result requests nothing)."""

    __slots__ = ("abandoned", "committed", "lock", "started_at", "submitted_at")

    def __init__(self) -> None:
        self.submitted_at = 0.0
        self.started_at: float | None = None
        self.lock = threading.Lock()
        self.abandoned = False
        self.committed = False


class _Pool:
    """A thread pool and how many of its calls were abandoned while running (``stuck``)."""

    __slots__ = ("stuck", "threads")

    def __init__(self, concurrency: int) -> None:
        self.threads = ThreadPoolExecutor(concurrency, thread_name_prefix="agentocore-tool")
        self.stuck = 0


class ToolExecutor:
    """Executes tool calls; results come back in the order of the toolUse blocks.

    Calls run on a bounded thread pool (built on first use). A call that exceeds its timeout
    yields an error result at once; Python cannot stop the thread, so the tool keeps its worker
    until it returns (tools doing I/O should use their own client timeouts too). That worker
    no longer counts: the pool it holds is retired (its other workers leave once its queue is
    drained) and later calls get a new one, so hung tools never starve the calls after them in
    a warm process. While ``max_abandoned`` abandoned calls are still running, new calls are
    not started: each gets an ``unavailable`` error result (the bound is checked when a call is
    submitted, so one batch may pass it by at most its own size).

    Action tools (``emits=``) publish nothing here: their accepted actions come back on the
    outcomes (``ToolOutcome.action``) and are published after the run (the conversation's
    outbox, saved with the turn; or ``Agent``'s ``action_sink`` when used standalone).
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        concurrency: int = 4,
        timeout_s: float = 15.0,
        max_abandoned: int | None = None,
    ) -> None:
        self.registry = registry
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_abandoned = (
            ABANDONED_PER_SLOT * concurrency if max_abandoned is None else max_abandoned
        )
        self._pool: _Pool | None = None
        self._retired: list[_Pool] = []  # replaced while abandoned calls still hold workers
        self._abandoned = 0
        self._lock = threading.Lock()

    @property
    def abandoned(self) -> int:
        """Calls abandoned at their timeout whose tools have not returned yet."""
        return self._abandoned

    def shutdown(self, wait: bool = False) -> None:
        """Release the pools' threads; ``wait=True`` waits for every call, abandoned ones too."""
        with self._lock:
            pools = [p for p in (self._pool, *self._retired) if p is not None]
            self._pool = None
        for pool in pools:
            pool.threads.shutdown(wait=wait, cancel_futures=True)

    def execute(self, tool_uses: Sequence[dict[str, Any]], ctx: ToolContext) -> list[ToolOutcome]:
        """Run every ``toolUse`` (the inner dicts) and return outcomes in the same order."""
        pending: list[ToolOutcome | tuple[dict[str, Any], _Job, _Pool, Future[ToolOutcome]]] = []
        for tu in tool_uses:
            job = _Job()
            submitted = self._submit(tu, ctx, job)
            pending.append((tu, job, *submitted) if isinstance(submitted, tuple) else submitted)
        return [p if isinstance(p, ToolOutcome) else self._await(*p) for p in pending]

    def _submit(
        self, tu: dict[str, Any], ctx: ToolContext, job: _Job
    ) -> tuple[_Pool, Future[ToolOutcome]] | ToolOutcome:
        """Start the call on the current pool, or an ``unavailable`` outcome when it cannot."""
        with self._lock:
            abandoned = self._abandoned
            if abandoned < self.max_abandoned:
                if self._pool is None:
                    self._pool = _Pool(self.concurrency)
                job.submitted_at = time.monotonic()
                try:
                    return self._pool, self._pool.threads.submit(self._run, tu, ctx, job)
                except RuntimeError as exc:  # "can't start new thread": the process's limit
                    job.abandoned = True  # if it runs later after all, it requests nothing
                    reason = f"no thread could be started for it ({exc})"
            else:
                reason = (
                    f"{abandoned} earlier tool calls that timed out are still running "
                    f"(limit {self.max_abandoned})"
                )
        name = str(tu.get("name", ""))
        tool_use_id = str(tu.get("toolUseId", ""))
        msg = f"tool '{name}' was not run: {reason}. Answer without it for now."
        log.error("tool call refused", extra={"tool": name, "abandoned": abandoned})
        return ToolOutcome(
            tool_use_id, name, "unavailable", 0.0, results.error(tool_use_id, msg), msg
        )

    def _abandon(self, pool: _Pool, fut: Future[ToolOutcome]) -> None:
        """Account for a call abandoned while its tool runs: its worker is lost until the tool
        returns, so its pool is retired and the next call gets a new one."""
        with self._lock:
            self._abandoned += 1
            pool.stuck += 1
            if pool is self._pool:
                self._pool = None
                self._retired.append(pool)
                pool.threads.shutdown(wait=False)  # queued calls still run; then workers exit
        fut.add_done_callback(lambda _: self._returned(pool))

    def _returned(self, pool: _Pool) -> None:
        with self._lock:
            self._abandoned -= 1
            pool.stuck -= 1
            if pool.stuck == 0 and pool in self._retired:
                self._retired.remove(pool)

    def _timeout_for(self, tool_use: dict[str, Any]) -> float:
        tool = self.registry.get(str(tool_use.get("name", "")))
        return tool.timeout_s if tool and tool.timeout_s else self.timeout_s

    def _await(
        self, tu: dict[str, Any], job: _Job, pool: _Pool, fut: Future[ToolOutcome]
    ) -> ToolOutcome:
        timeout = self._timeout_for(tu)
        while True:
            started = job.started_at
            deadline = (started if started is not None else job.submitted_at) + timeout
            wait = deadline - time.monotonic()
            if wait > 0:
                try:
                    return fut.result(timeout=wait)
                except FutureTimeout:
                    pass
            if job.started_at is not None and job.started_at != started:
                continue  # it started while we waited: its own clock applies
            with job.lock:
                committed = job.committed
                job.abandoned = not committed
            if committed or fut.done():
                return fut.result()  # its action was accepted: the call's real outcome
            if not fut.cancel():  # it is running: its thread stays busy until the tool returns
                self._abandon(pool, fut)
            name = str(tu.get("name", ""))
            tool_use_id = str(tu.get("toolUseId", ""))
            where = "to start" if job.started_at is None else "to finish"
            msg = f"tool '{name}' took longer than {timeout:g}s {where} and was abandoned"
            log.warning("tool timeout", extra={"tool": name, "timeout_s": timeout})
            return ToolOutcome(
                tool_use_id, name, "timeout", timeout * 1000, results.error(tool_use_id, msg), msg
            )

    def _run(self, tu: dict[str, Any], ctx: ToolContext, job: _Job) -> ToolOutcome:
        start = time.perf_counter()
        job.started_at = time.monotonic()
        tool_use_id = str(tu.get("toolUseId", ""))
        name = str(tu.get("name", ""))
        try:
            status, block, error, action = self._call(tu, ctx, job, tool_use_id, name)
        except Exception as exc:  # past the tool (its output, an action): still a result
            log.exception("tool call failed", extra={"tool": name})
            error = f"tool '{name}' failed: {type(exc).__name__}: {exc}"
            status, block, action = "error", results.error(tool_use_id, error), None
        ms = (time.perf_counter() - start) * 1000
        return ToolOutcome(tool_use_id, name, status, ms, block, error, action)

    def _call(
        self, tu: dict[str, Any], ctx: ToolContext, job: _Job, tool_use_id: str, name: str
    ) -> _Result:
        tool = self.registry.get(name)
        if tool is None:
            msg = (
                f"unknown tool '{name}'. Valid tool names: {', '.join(self.registry.names)}. "
                "Call one of these."
            )
            return "unknown_tool", results.error(tool_use_id, msg), msg, None
        try:
            args = tool.input_model.model_validate(tu.get("input") or {})
        except ValidationError as exc:
            msg = (
                f"invalid input for tool '{name}':\n{results.describe_validation_error(exc)}\n"
                f"Expected input schema: {results.schema_text(tool.input_schema)}\n"
                "Call the tool again with input that matches the schema."
            )
            return "invalid_input", results.error(tool_use_id, msg), msg, None
        call_ctx = replace(
            ctx, tool_use_id=tool_use_id, call=call_key(name, args.model_dump(mode="json"))
        )
        try:
            value = tool.func(args, call_ctx) if tool.takes_context else tool.func(args)
        except ToolError as exc:
            msg = f"tool '{name}' failed: {exc}"
            return "error", results.error(tool_use_id, msg), msg, None
        except Exception as exc:
            log.exception("tool raised", extra={"tool": name})
            msg = f"tool '{name}' failed: {type(exc).__name__}: {exc}"
            return "error", results.error(tool_use_id, msg), msg, None
        try:
            value = self._check_output(tool, value)
        except ValidationError as exc:
            msg = (
                f"tool '{name}' returned invalid output:\n{results.describe_validation_error(exc)}"
            )
            return "invalid_output", results.error(tool_use_id, msg), msg, None
        if tool.emits:
            return self._emit(tool, value, call_ctx, job)
        try:
            return "success", results.success(tool_use_id, value), None, None
        except results.OutputError as exc:
            msg = f"tool '{name}' returned output that cannot be sent to the model: {exc}"
            log.warning("tool output not serializable", extra={"tool": name, "error": str(exc)})
            return "invalid_output", results.error(tool_use_id, msg), msg, None

    @staticmethod
    def _check_output(tool: Tool, value: Any) -> Any:
        if tool.output_model is None:
            return value
        if isinstance(value, tool.output_model):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        return tool.output_model.model_validate(value)

    def _catalog(self) -> ActionCatalog:
        catalog = self.registry.actions
        if catalog is None:  # the registry refuses emits= without one; kept for hand-built Tools
            raise ActionError("the tool registry has no action catalog")
        return catalog

    def _emit(self, tool: Tool, value: Any, ctx: ToolContext, job: _Job) -> _Result:
        """Accept the tool's return value as an action of the run; tell the model it was queued.

        Nothing is published here: the run's actions are published once the turn is saved.
        ``requested_by`` is the run's identity, whatever the tool returned. A call already
        abandoned at its timeout requests nothing."""
        if not isinstance(value, BaseModel | dict):
            msg = (
                f"tool '{tool.name}' requests '{tool.emits}' actions and must return the action's "
                f"payload (its model or an object), not {type(value).__name__}"
            )
            return "invalid_output", results.error(ctx.tool_use_id, msg), msg, None
        try:
            declared = self._catalog().get(str(tool.emits))
            action = declared.request(
                value,
                action_id=ctx.action_id,
                requested_by=ctx.user_id,  # the run's identity, never the tool's
                conversation_id=ctx.conversation_id,
                agent_id=ctx.agent_id,
            )
        except ActionError as exc:
            msg = f"tool '{tool.name}' returned an action its workers would refuse: {exc}"
            return "invalid_output", results.error(ctx.tool_use_id, msg), msg, None
        action_id = action.action_id
        with job.lock:
            if job.abandoned:
                log.warning(
                    "late result of a timed-out action tool discarded",
                    extra={"tool": tool.name, "action_id": action_id},
                )
                msg = f"tool '{tool.name}' timed out; its action was not requested"
                return "timeout", results.error(ctx.tool_use_id, msg), msg, None
            job.committed = True
        ack = {
            "action_id": action_id,
            "type": tool.emits,
            "status": "requested",
            "note": "The action was queued and completes asynchronously.",
        }
        return "success", results.success(ctx.tool_use_id, ack), None, action
