"""Prompt caching: cachePoint blocks after the tool list and after the system prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentocore.budget import tokens
from agentocore.types import ContentBlock

CACHE_POINT: ContentBlock = {"cachePoint": {"type": "default"}}


@dataclass(frozen=True)
class CachePlan:
    """Where the static prefix gets cache points (decided once per agent, not per call)."""

    after_tools: bool
    after_system: bool
    prefix_tokens: int


def plan(enabled: bool, min_tokens: int, tool_specs: list[Any], system_prompt: str) -> CachePlan:
    """Cache a prefix only where it reaches the model's minimum; below it Bedrock silently
    skips caching, so a cachePoint there only costs request bytes."""
    if not enabled or min_tokens <= 0:
        return CachePlan(False, False, 0)
    tool_tokens = tokens.count_json(tool_specs) if tool_specs else 0
    system_tokens = tokens.count_text(system_prompt)
    total = tool_tokens + system_tokens
    return CachePlan(
        after_tools=bool(tool_specs) and tool_tokens >= min_tokens,
        after_system=total >= min_tokens,
        prefix_tokens=total,
    )


def system_blocks(prompt: str, summary: str | None, cache: CachePlan) -> list[ContentBlock]:
    """System content: the prompt, a cache point, then the per-conversation summary (which
    changes, so it sits after the cached prefix)."""
    blocks: list[ContentBlock] = [{"text": prompt}]
    if cache.after_system:
        blocks.append(CACHE_POINT)
    if summary:
        blocks.append({"text": f"Summary of the earlier conversation:\n{summary}"})
    return blocks


def tool_config(specs: list[Any], cache: CachePlan) -> dict[str, Any] | None:
    """The Converse ``toolConfig`` (None without tools)."""
    if not specs:
        return None
    tools = list(specs)
    if cache.after_tools:
        tools.append(CACHE_POINT)
    return {"tools": tools}
