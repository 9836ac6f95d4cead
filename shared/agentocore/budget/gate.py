"""Admission of one model call: the unpriced-model policy and the daily budgets' reservation.

The estimate of a call is tiktoken's count of its request (system, messages, tool specs) with
:data:`INPUT_MARGIN` headroom, plus ``maxTokens``; priced at the model's dearest input price
(cache writes cost more than plain input) and its output price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from agentocore.budget import tokens
from agentocore.budget.daily import NO_HOLD, DailyBudgets, Estimate, Hold
from agentocore.budget.guard import BudgetName, BudgetStop
from agentocore.budget.pricing import FREE, PricingTable
from agentocore.types import ConverseRequest, Message

#: Headroom over tiktoken's count: Claude's tokenizer is not cl100k_base (not measured here).
INPUT_MARGIN = 1.25
Unpriced = Literal["deny", "allow"]


def request_tokens(request: ConverseRequest) -> int:
    """tiktoken's estimate of a Converse request's input."""
    system = sum(
        tokens.count_text(str(b["text"])) for b in request.get("system", []) if "text" in b
    )
    tool_config = request.get("toolConfig") or {}
    specs = tokens.count_json(tool_config.get("tools", [])) if tool_config else 0
    return system + specs + tokens.count_messages(request.get("messages", []))


class BudgetGate:
    """Decides, before each model call, whether it may run; the :class:`Hold` it returns is
    settled with the real usage after the call (or released when the call failed)."""

    def __init__(
        self,
        daily: DailyBudgets | None,
        pricing: PricingTable,
        *,
        unpriced: Unpriced = "deny",
    ) -> None:
        self.daily = daily if daily is not None and daily.enabled else None
        self.pricing = pricing
        self.unpriced = unpriced

    def unpriced_stop(
        self, model_id: str, user_id: str | None, conversation_usd: float
    ) -> BudgetStop | None:
        """A model without a price fails every USD budget in force closed (unless allowed)."""
        if self.unpriced == "allow" or self.pricing.is_priced(model_id):
            return None
        limits = self.daily.limits if self.daily is not None else None
        scopes: list[BudgetName] = []
        if limits is not None and limits.user_usd and user_id:
            scopes.append("user_daily")
        if limits is not None and limits.tenant_usd:
            scopes.append("tenant_daily")
        if conversation_usd:
            scopes.append("conversation")
        if not scopes:
            return None
        return BudgetStop(
            budget=scopes[0],
            message=f"model {model_id!r} has no price, so its USD budget cannot be enforced (add "
            "it to AGENTOCORE_PRICING, or set AGENTOCORE_BUDGET_UNPRICED=allow)",
        )

    def admit(
        self,
        model_id: str,
        user_id: str | None,
        *,
        request: ConverseRequest | None = None,
        messages: Sequence[Message] = (),
        max_tokens: int,
        conversation_usd: float = 0.0,
    ) -> Hold | BudgetStop:
        """Reserve the estimate of a call (its ``request``, or a summary of ``messages``).
        Raises :class:`~agentocore.budget.daily.BudgetLedgerError` (fail closed)."""
        stop = self.unpriced_stop(model_id, user_id, conversation_usd)
        if stop is not None:
            return stop
        if self.daily is None:
            return NO_HOLD
        counted = request_tokens(request) if request is not None else 0
        counted += tokens.count_messages(messages)
        est_in = math.ceil(counted * INPUT_MARGIN)
        price = self.pricing.price(model_id) or FREE
        per_input = max(price.input, price.cache_write, price.cache_read)
        usd = (est_in * per_input + max_tokens * price.output) / 1_000_000
        return self.daily.reserve(user_id, Estimate(est_in + max_tokens, usd))
