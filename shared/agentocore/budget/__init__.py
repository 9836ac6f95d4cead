"""Tokens, budgets and cost: usage from Converse, estimates from tiktoken (offline)."""

from agentocore.budget.guard import Budget, Spent, over_budget
from agentocore.budget.pricing import ModelPrice, PricingTable, base_model_id
from agentocore.budget.usage import Usage

__all__ = [
    "Budget",
    "ModelPrice",
    "PricingTable",
    "Spent",
    "Usage",
    "base_model_id",
    "over_budget",
]
