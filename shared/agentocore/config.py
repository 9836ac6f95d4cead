"""Runtime settings, read from ``AGENTOCORE_*`` environment variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_MODEL = "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful, careful assistant. Use the tools you are given when they help; "
    "never invent tool results. If a tool reports an error, read it and correct your call."
)
# Each loop iteration adds at most two messages (assistant + user); one run (its first user
# message, 2 * 47, the closing answer: 96), the META update, the outbox item and the request's
# receipt must fit into one DynamoDB transaction (100 actions).
MAX_ITERATIONS_LIMIT = 47


class ConfigError(ValueError):
    """A setting has an invalid value."""


class AgentConfig(BaseModel):
    """One agent_id's overrides (``AGENTOCORE_AGENTS`` JSON: ``{"support": {...}}``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tools: list[str] | None = Field(None, description="Tool names; None = every tool.")
    system_prompt: str | None = None
    model: str | None = None


class Settings(BaseModel):
    """All tunables of the core. Build from the environment with :meth:`from_env`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(DEFAULT_MODEL, description="Model spec '<provider>:<model id>'.")
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    table_name: str = Field("agentocore", description="DynamoDB single table.")
    event_bus_name: str = Field("agentocore", description="EventBridge bus for action events.")
    max_iterations: int = Field(10, ge=1, le=MAX_ITERATIONS_LIMIT)
    max_tokens: int = Field(4096, ge=1, description="inferenceConfig.maxTokens per model call.")
    run_events: bool = Field(
        True,
        description="Log each run's events (text, tool calls, actions, usage, the result) in "
        "the conversation's partition, numbered, for GET /conversations/{id}/events and "
        "reconnecting sockets (agentocore.stream.log).",
    )
    event_ttl_hours: int = Field(24, ge=1, description="How long logged run events are kept.")
    live_flush_s: float = Field(
        0.1,
        gt=0,
        le=5,
        description="How long a run's event may wait for its batch when someone watches it "
        "live over the WebSocket API (otherwise 0.5 s): each batch is one write and one push.",
    )
    ws_endpoint: str = Field(
        "",
        description="The WebSocket API stage's management endpoint "
        "(https://<api id>.execute-api.<region>.amazonaws.com/<stage>): stored run events are "
        "pushed to subscribed connections; empty (and no ws_endpoint_parameter) = no push.",
    )
    ws_endpoint_parameter: str = Field(
        "",
        description="SSM parameter holding ws_endpoint (read once per environment; Terraform "
        "writes it, so that the functions' environment is known at plan time).",
    )

    @property
    def pushes(self) -> bool:
        """Whether stored run events are pushed to WebSocket connections."""
        return bool(self.ws_endpoint or self.ws_endpoint_parameter)

    stream: bool = Field(
        False,
        description="Call the model with converse_stream: text reaches the run's events as it "
        "is generated (converse: once per model call). The result is the same either way.",
    )
    temperature: float = Field(0.2, ge=0.0, le=1.0)
    max_tokens_continuations: int = Field(
        1, ge=0, description="How often a reply cut at max_tokens is continued."
    )
    tool_timeout_s: float = Field(15.0, gt=0)
    tool_concurrency: int = Field(4, ge=1, le=64)
    prompt_caching: bool = True
    window_messages: int = Field(
        60, ge=4, le=1000, description="Query Limit: newest messages loaded per turn."
    )
    compaction_threshold_tokens: int = Field(
        12_000, ge=500, description="Compact the window when its estimate exceeds this."
    )
    compaction_keep_messages: int = Field(
        8, ge=2, description="Newest messages kept verbatim by compaction (at least)."
    )
    ttl_days: int = Field(30, ge=1)
    budget_max_tokens: int = Field(
        1_000_000, ge=0, description="Per-conversation token budget; 0 = unlimited."
    )
    budget_max_usd: float = Field(
        5.0, ge=0, description="Per-conversation cost budget in USD; 0 = unlimited."
    )
    budget_user_daily_tokens: int = Field(0, ge=0, description="Per user per UTC day; 0 = off.")
    budget_user_daily_usd: float = Field(0.0, ge=0, description="Per user per UTC day; 0 = off.")
    budget_tenant_daily_tokens: int = Field(
        0, ge=0, description="The whole deployment per UTC day; 0 = unlimited."
    )
    budget_tenant_daily_usd: float = Field(
        0.0, ge=0, description="The whole deployment per UTC day; 0 = unlimited."
    )
    budget_tenant_shards: int = Field(
        1,
        ge=1,
        le=1000,
        description="Items the tenant budget is split over, each holding an equal share "
        "(agentocore.budget.daily): one DynamoDB partition takes ~1,000 writes/s, and every "
        "model call writes the tenant item twice. 1 = a single exact item.",
    )
    budget_unpriced: Literal["deny", "allow"] = Field(
        "deny",
        description="A model missing from the price table: 'deny' fails every USD budget in "
        "force closed; 'allow' counts it at $0.",
    )
    max_message_bytes: int = Field(16 * 1024, ge=1)
    sync_budget_s: float = Field(
        25.0,
        ge=0,
        description="HTTP (synchronous) runs: seconds a run may take before it is deferred to an "
        "event-driven continuation (API Gateway's integration limit is 30 s); 0 = unlimited.",
    )
    sync_reserve_s: float = Field(
        8.0,
        ge=0,
        description="Least time that must be left before another model call of a synchronous "
        "run (the longest step seen in the run counts when longer).",
    )
    running_stale_s: float = Field(
        900.0,
        gt=0,
        description="A pending continuation older than this is scheduled again by the next "
        "request on its conversation (longer than the Lambda timeout).",
    )
    agents: dict[str, AgentConfig] = Field(
        default_factory=dict, description="Per agent_id tool sets and prompts (JSON)."
    )
    approvals_topic_arn: str = Field("", description="SNS topic notified of pending approvals.")
    alerts_topic_arn: str = Field("", description="SNS topic for DLQ failure alerts.")
    approver_group: str = Field("approvers", description="JWT group allowed to decide.")
    trusted_user_triggers: list[Literal["s3", "sns", "schedule"]] = Field(
        default_factory=list,
        description="Triggers whose payload may name the user a run acts for (validated like a "
        "JWT sub); the others act as their own principal (s3:<bucket>, sns:<topic>, "
        "schedule:<name>). Comma-separated in the environment.",
    )
    app: str = Field(
        "",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?$",
        description="The application module: its `catalog` (ActionCatalog) and `tools()` "
        "(ToolRegistry); empty = no tools, no action types.",
    )

    @model_validator(mode="after")
    def _window_holds_the_unsummarized_turns(self) -> Settings:
        """The window must hold what compaction leaves unsummarized: one run's messages
        (``2 * max_iterations + 2``) after the kept tail, and twice the kept tail (compaction
        waits until then); otherwise the next load cannot see every unsummarized turn."""
        need = max(
            2 * self.max_iterations + 2 + self.compaction_keep_messages,
            2 * self.compaction_keep_messages,
        )
        if self.window_messages < need:
            raise ValueError(
                f"window_messages={self.window_messages} is too small for "
                f"max_iterations={self.max_iterations} and "
                f"compaction_keep_messages={self.compaction_keep_messages}: at least {need} "
                "(2 * max_iterations + 2 + compaction_keep_messages, and "
                "2 * compaction_keep_messages)"
            )
        return self

    @model_validator(mode="after")
    def _tenant_shares_hold_calls(self) -> Settings:
        """Each shard of a sharded tenant token budget must hold a few calls of ``max_tokens``
        (a call whose estimate exceeds a share is refused)."""
        shards, tokens = self.budget_tenant_shards, self.budget_tenant_daily_tokens
        if shards > 1 and tokens and tokens // shards < 4 * self.max_tokens:
            raise ValueError(
                f"budget_tenant_shards={shards} leaves each shard {tokens // shards} of "
                f"budget_tenant_daily_tokens={tokens}: at least 4 * max_tokens "
                f"({4 * self.max_tokens}) each; use fewer shards"
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``AGENTOCORE_<FIELD>`` variables (upper case); explicit overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(f"AGENTOCORE_{name.upper()}")
            if raw is None or raw == "":
                continue
            if name == "trusted_user_triggers":
                values[name] = [v.strip() for v in raw.split(",") if v.strip()]
                continue
            if name == "agents":
                try:
                    values[name] = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"AGENTOCORE_AGENTS is not JSON: {exc}") from exc
            else:
                values[name] = raw
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(f"invalid AgentoCore settings: {exc}") from exc
