"""Per-conversation budget: running totals from the meta item against configured limits; the
typed answer of any exhausted budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agentocore.budget.usage import Usage

BudgetName = Literal["conversation", "user_daily", "tenant_daily"]


class BudgetStop(BaseModel):
    """Which budget stopped a run, why, and when it resets (None: it never does)."""

    model_config = ConfigDict(frozen=True)

    budget: BudgetName
    message: str
    resets_at: str | None = None


@dataclass(frozen=True)
class Budget:
    """Limits of one conversation; 0 means unlimited."""

    max_tokens: int = 0
    max_usd: float = 0.0


@dataclass(frozen=True)
class Spent:
    """What a conversation has consumed before this run (read from its meta item)."""

    tokens: int = 0
    usd: float = 0.0


def over_budget(budget: Budget, spent: Spent, run_usage: Usage, run_cost: float) -> str | None:
    """Why the budget is exhausted (a message), or None while there is room left."""
    tokens = spent.tokens + run_usage.total_tokens
    usd = spent.usd + run_cost
    if budget.max_tokens and tokens >= budget.max_tokens:
        return f"token budget exhausted: {tokens} of {budget.max_tokens} tokens used"
    if budget.max_usd and usd >= budget.max_usd:
        return f"cost budget exhausted: ${usd:.6f} of ${budget.max_usd:.2f} used"
    return None
