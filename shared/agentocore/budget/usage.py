"""Token usage as Converse reports it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class Usage(BaseModel):
    """Token counts of one or more model calls (from Converse ``usage``, never estimated)."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @classmethod
    def from_converse(cls, usage: Mapping[str, Any] | None) -> Usage:
        """Read a Converse ``usage`` map (missing keys count as zero)."""
        u = usage or {}
        return cls(
            input_tokens=int(u.get("inputTokens", 0)),
            output_tokens=int(u.get("outputTokens", 0)),
            cache_read_tokens=int(u.get("cacheReadInputTokens", 0)),
            cache_write_tokens=int(u.get("cacheWriteInputTokens", 0)),
        )

    @property
    def total_tokens(self) -> int:
        """Every token the model processed: input, output, cache reads and cache writes."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )
