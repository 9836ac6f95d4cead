"""Model prices (USD per 1M tokens) and cost of a :class:`Usage`."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from agentocore.budget.usage import Usage


@dataclass(frozen=True)
class ModelPrice:
    """USD per one million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, usage: Usage) -> float:
        """Cost in USD of ``usage`` at this price."""
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
        ) / 1_000_000


FREE = ModelPrice(0.0, 0.0, 0.0, 0.0)

#: Base model id -> price. Input/output prices are the seed article's (Claude Sonnet 4.5:
#: $3 / $15; Claude Haiku: $0.25 input); the rest follow Anthropic's published Bedrock
#: ratios: cache read = 10% of input, cache write = 125% of input, Haiku output $1.25.
PRICES: dict[str, ModelPrice] = {
    "anthropic.claude-sonnet-4-5-20250929-v1:0": ModelPrice(3.00, 15.00, 0.30, 3.75),
    "anthropic.claude-3-haiku-20240307-v1:0": ModelPrice(0.25, 1.25, 0.03, 0.30),
}

#: Providers that run on this machine (no bill): priced at 0, never "unpriced".
SELF_HOSTED_PREFIXES = ("local:", "rules:", "scripted")

# Cross-region inference profiles ("us.", "eu.", "apac.", "global.", ...) cost the same as
# the base model id they route to.
_PROFILE_PREFIX = re.compile(r"^(?:[a-z]{2,6})\.(?=[a-z0-9-]+\.[a-z0-9])")


def base_model_id(model_id: str) -> str:
    """Strip an inference-profile prefix and a provider prefix like ``bedrock:``."""
    model_id = model_id.split(":", 1)[1] if model_id.startswith("bedrock:") else model_id
    if model_id.count(".") >= 2:
        model_id = _PROFILE_PREFIX.sub("", model_id, count=1)
    return model_id


class PricingTable:
    """Looks up prices; extra or overriding entries come from ``AGENTOCORE_PRICING`` (JSON
    ``{"<model id>": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75}}``)."""

    def __init__(self, prices: dict[str, ModelPrice] | None = None) -> None:
        self._prices = dict(PRICES if prices is None else prices)

    @classmethod
    def from_env(cls) -> PricingTable:
        table = cls()
        raw = os.environ.get("AGENTOCORE_PRICING")
        if raw:
            for model_id, p in json.loads(raw).items():
                table._prices[model_id] = ModelPrice(
                    float(p["input"]),
                    float(p["output"]),
                    float(p.get("cache_read", 0.0)),
                    float(p.get("cache_write", 0.0)),
                )
        return table

    def price(self, model_id: str) -> ModelPrice | None:
        """The price of ``model_id`` (inference profiles resolved), or None if unknown."""
        return self._prices.get(model_id) or self._prices.get(base_model_id(model_id))

    def is_priced(self, model_id: str) -> bool:
        """Whether the cost of ``model_id`` is known: listed, or a self-hosted provider."""
        return self.price(model_id) is not None or model_id.startswith(SELF_HOSTED_PREFIXES)

    def cost(self, model_id: str, usage: Usage) -> float:
        """Cost in USD; unknown models cost 0 here (USD budgets refuse them, see
        :class:`~agentocore.budget.gate.BudgetGate`)."""
        return (self.price(model_id) or FREE).cost(usage)
