"""Which actions need a human: the same rule the EventBridge rules route on, enforced again by
the workers so that no misrouted or forged event skips an approval."""

from __future__ import annotations

from dataclasses import dataclass

from agentocore.events.contracts import RefundRequested


@dataclass(frozen=True)
class ApprovalPolicy:
    """Refunds above ``threshold`` (or flagged high risk) need an approval."""

    threshold: float = 1000.0

    def requires_approval(self, refund: RefundRequested) -> bool:
        return refund.high_risk or refund.amount > self.threshold


class ApprovalRequired(PermissionError):
    """An action that needs an approval reached a worker without one."""
