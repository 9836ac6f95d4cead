"""Wiring from settings: the objects a Lambda function builds once per container.

Nothing here talks to AWS until a method is used: clients are built lazily.
"""

from __future__ import annotations

import importlib
import threading
from functools import cached_property
from types import ModuleType
from typing import Any

from agentocore.actions.catalog import ActionCatalog
from agentocore.agent.loop import Agent
from agentocore.approvals import ApprovalStore
from agentocore.budget.daily import DailyBudgets, DailyLimits
from agentocore.config import Settings
from agentocore.events.publisher import EventPublisher
from agentocore.memory.compaction import ModelSummarizer
from agentocore.memory.store import ConversationMemory
from agentocore.models.base import ModelProvider
from agentocore.models.registry import create_model
from agentocore.session import ConversationRunner
from agentocore.stream.log import EventLog
from agentocore.stream.push import LazyManagement, SocketConnections, SocketPusher
from agentocore.tools.registry import ToolRegistry
from agentocore.workers.provenance import ActionProvenance

AGENT_ID = r"^[A-Za-z0-9_-]{1,64}$"


class UnknownAgent(ValueError):
    """No agent is configured under this agent_id."""


class AppError(ImportError):
    """The application module (``AGENTOCORE_APP``) cannot be loaded or lacks its parts."""


def load_app(name: str) -> ModuleType:
    """Import the application module; it must have ``catalog`` and ``tools()``."""
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise AppError(f"cannot import the application module {name!r}: {exc}") from exc
    if not isinstance(getattr(module, "catalog", None), ActionCatalog):
        raise AppError(f"{name}.catalog must be an agentocore.actions.ActionCatalog")
    if not callable(getattr(module, "tools", None)):
        raise AppError(f"{name}.tools must be a function returning a ToolRegistry")
    return module


class Runtime:
    """Lazily built collaborators for the functions; tests replace attributes as needed."""

    def __init__(
        self,
        settings: Settings | None = None,
        tools: ToolRegistry | None = None,
        *,
        model: ModelProvider | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._tools = tools
        self._model = model
        self._runners: dict[str, ConversationRunner] = {}
        self._lock = threading.Lock()

    @cached_property
    def app(self) -> ModuleType | None:
        """The application module named by ``settings.app`` (None when empty)."""
        return load_app(self.settings.app) if self.settings.app else None

    @cached_property
    def tools(self) -> ToolRegistry:
        """The tools given to the constructor, else the application's."""
        if self._tools is not None:
            return self._tools
        if self.app is None:
            return ToolRegistry(self.catalog)
        registry = self.app.tools()
        if not isinstance(registry, ToolRegistry):
            raise AppError(f"{self.settings.app}.tools() did not return a ToolRegistry")
        return registry

    @cached_property
    def catalog(self) -> ActionCatalog:
        """The application's action types (the tools' catalog when tools were given)."""
        if self._tools is not None and self._tools.actions is not None:
            return self._tools.actions
        if self.app is None:
            return ActionCatalog()
        catalog: ActionCatalog = self.app.catalog
        return catalog

    @cached_property
    def model(self) -> ModelProvider:
        return self._model or create_model(self.settings.model)

    @cached_property
    def memory(self) -> ConversationMemory:
        s = self.settings
        return ConversationMemory(
            s.table_name, ttl_days=s.ttl_days, window_messages=s.window_messages
        )

    @cached_property
    def daily_budgets(self) -> DailyBudgets:
        """The per user and per tenant daily budgets (shared by every agent of the process)."""
        s = self.settings
        return DailyBudgets(s.table_name, DailyLimits.from_settings(s))

    @cached_property
    def event_log(self) -> EventLog:
        """The conversations' run events (numbered, for resuming clients), each stored batch
        pushed to the conversation's live sockets when a WebSocket API is configured."""
        s = self.settings
        push = self.pusher.push if s.pushes else None
        log = EventLog(s.table_name, ttl_hours=s.event_ttl_hours, on_stored=push)
        log.live_flush_s = s.live_flush_s
        return log

    @cached_property
    def connections(self) -> SocketConnections:
        """The WebSocket API's connections and their subscriptions."""
        return SocketConnections(self.settings.table_name)

    @cached_property
    def pusher(self) -> SocketPusher:
        """Sends to WebSocket connections (nothing when no endpoint is configured)."""
        s = self.settings
        return SocketPusher(
            self.connections, LazyManagement(s.ws_endpoint, s.ws_endpoint_parameter)
        )

    @cached_property
    def publisher(self) -> EventPublisher:
        return EventPublisher(self.settings.event_bus_name)

    @cached_property
    def approvals(self) -> ApprovalStore:
        return ApprovalStore(self.settings.table_name, ttl_days=self.settings.ttl_days)

    @cached_property
    def provenance(self) -> ActionProvenance:
        """Whether an ActionRequested was saved by a turn (the workers' check)."""
        return ActionProvenance(self.settings.table_name)

    def agent_ids(self) -> list[str]:
        return sorted({"default", *self.settings.agents})

    def runner(self, agent_id: str = "default") -> ConversationRunner:
        """The runner for ``agent_id`` (its tool set, prompt and model), built once."""
        runner = self._runners.get(agent_id)
        if runner is not None:
            return runner
        with self._lock:
            if agent_id not in self._runners:
                self._runners[agent_id] = self._build_runner(agent_id)
            return self._runners[agent_id]

    def _build_runner(self, agent_id: str) -> ConversationRunner:
        config = self.settings.agents.get(agent_id)
        if config is None and agent_id != "default":
            raise UnknownAgent(
                f"unknown agent_id {agent_id!r}; configured: {', '.join(self.agent_ids())}"
            )
        tools = self.tools
        model = self.model
        prompt = None
        if config is not None:
            if config.tools is not None:
                tools = self.tools.subset(config.tools)
            if config.model:
                model = create_model(config.model)
            prompt = config.system_prompt
        agent = Agent(
            model,
            tools,
            settings=self.settings,
            system_prompt=prompt,  # no action sink: the turn's save writes the outbox
            daily_budgets=self.daily_budgets,
            summarizer=ModelSummarizer(model),
        )
        events = self.event_log if self.settings.run_events else None
        return ConversationRunner(agent, self.memory, event_log=events)

    def reset(self, **replace: Any) -> None:
        """Drop built objects (tests): the next use builds them again, or uses ``replace``."""
        names = ("model", "memory", "publisher", "approvals", "provenance", "daily_budgets")
        for name in (*names, "event_log", "connections", "pusher"):
            self.__dict__.pop(name, None)
        self._runners.clear()
        self.__dict__.update(replace)
