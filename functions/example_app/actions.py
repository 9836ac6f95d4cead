"""The example's action types: refunds (approval above 1,000 or when flagged high risk) and
subscription cancellations (always approved by a human)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agentocore.actions import ActionCatalog, ActionContext, Approval
from example_app import stores

ORDER_ID = r"^[A-Z]-\d{4}$"
SUBSCRIPTION_ID = r"^S-\d{4}$"
REFUND_APPROVAL_THRESHOLD = 1000.0

#: REFUND# and SUBSCRIPTION# items: the demo payment and subscription systems (stores.py)
catalog = ActionCatalog(items=["REFUND#", "SUBSCRIPTION#"])


class RefundOrder(BaseModel):
    """Refund (part of) an order's amount to the customer."""

    order_id: str = Field(pattern=ORDER_ID)
    amount: float = Field(gt=0, le=1_000_000)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    reason: str | None = Field(None, max_length=500)
    high_risk: bool = False


class CancelSubscription(BaseModel):
    """Cancel a customer's subscription."""

    subscription_id: str = Field(pattern=SUBSCRIPTION_ID)
    reason: str = Field(min_length=3, max_length=500)
    at_period_end: bool = True


@catalog.action(
    "RefundOrder",
    payload=RefundOrder,
    approval=Approval.any(
        Approval.above("amount", REFUND_APPROVAL_THRESHOLD), Approval.when("high_risk")
    ),
    summary=lambda p: f"refund {p.amount:,.2f} {p.currency} for order {p.order_id}",
)
def refund_order(payload: RefundOrder, ctx: ActionContext) -> dict[str, Any]:
    """Refund an order through the payment system (once per action id)."""
    return stores.ledger(ctx.settings.table_name).refund(
        ctx.action_id,
        order_id=payload.order_id,
        amount=payload.amount,
        currency=payload.currency,
        approved_by=ctx.approved_by,
    )


@catalog.action(
    "CancelSubscription",
    payload=CancelSubscription,
    approval=Approval.always(),
    summary=lambda p: (
        f"cancel subscription {p.subscription_id} "
        + ("at the end of the period" if p.at_period_end else "now")
    ),
)
def cancel_subscription(payload: CancelSubscription, ctx: ActionContext) -> dict[str, Any]:
    """Cancel a subscription (once per subscription)."""
    return stores.subscriptions(ctx.settings.table_name).cancel(
        ctx.action_id,
        subscription_id=payload.subscription_id,
        at_period_end=payload.at_period_end,
        approved_by=ctx.approved_by,
    )
