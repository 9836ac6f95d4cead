"""The example's systems of record, in the single table: a payment ledger and a subscription
book. Each effect is one conditional write, so a repeated request cannot act twice."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

from agentocore import ddb
from agentocore.actions import ActionDeclined

log = logging.getLogger(__name__)
SUPPORTED_CURRENCIES = frozenset({"USD", "EUR", "GBP"})
#: Demo fault injection: refunds of these orders fail as if the payment system were down.
FAIL_ORDERS_ENV = "EXAMPLE_PAYMENTS_FAIL_ORDER_IDS"


class PaymentDeclined(ActionDeclined):
    """A permanent refusal (reported as ActionFailed)."""


class PaymentSystemUnavailable(RuntimeError):
    """A transient failure: raised so the event is retried and, in the end, dead-lettered."""


class OnceStore(ddb.TableStore):
    """Items written at most once (a conditional put; the existing item otherwise)."""

    def put_once(self, key: dict[str, Any], item: dict[str, Any]) -> dict[str, Any] | None:
        """Write ``item`` unless its key exists; the existing item when it did."""
        try:
            self.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(PK)"
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            found: dict[str, Any] = self.client.get_item(
                TableName=self.table_name, Key=key, ConsistentRead=True
            )["Item"]
            return found
        return None


class RefundLedger(OnceStore):
    """The demo payment system: ``PK=REFUND#<action id>``, written once."""

    def __init__(self, table_name: str, *, fail_order_ids: Iterable[str] = (), **kwargs: Any):
        super().__init__(table_name, **kwargs)
        self.fail_order_ids = frozenset(fail_order_ids)

    def refund(
        self,
        action_id: str,
        *,
        order_id: str,
        amount: float,
        currency: str,
        approved_by: str | None = None,
    ) -> dict[str, Any]:
        """Record the refund once; a repeat returns the first record with ``duplicate=True``."""
        if order_id in self.fail_order_ids:
            raise PaymentSystemUnavailable(f"payment system unavailable for order {order_id}")
        if currency not in SUPPORTED_CURRENCIES:
            raise PaymentDeclined(f"currency {currency} is not supported")
        record = {
            "refund_id": f"rf_{action_id[:8]}",
            "action_id": action_id,
            "order_id": order_id,
            "currency": currency,
            "approved_by": approved_by,
            "processed_at": ddb.iso(self._clock()),
        }
        key = {"PK": ddb.s(f"REFUND#{action_id}"), "SK": ddb.s("META")}
        item = {**key, **{k: ddb.s(v) for k, v in record.items() if isinstance(v, str)}}
        item["amount"] = ddb.n(amount)
        existing = self.put_once(key, item)
        if existing is not None:
            log.info("refund already performed", extra={"action_id": action_id})
            return {
                **_plain(existing),
                "amount": ddb.get_float(existing, "amount"),
                "duplicate": True,
            }
        return {**record, "amount": amount, "duplicate": False}

    def count_refunds(self, action_id: str) -> int:
        """How many refund records exist for an action (0 or 1; for tests and audits)."""
        response = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": ddb.s(f"REFUND#{action_id}")},
            Select="COUNT",
        )
        return int(response["Count"])


class SubscriptionBook(OnceStore):
    """The demo subscription system: ``PK=SUBSCRIPTION#<id>``, ``SK=CANCELLATION``, once per
    subscription (a second cancellation by another request is declined)."""

    def cancel(
        self, action_id: str, *, subscription_id: str, at_period_end: bool, approved_by: str | None
    ) -> dict[str, Any]:
        key = {"PK": ddb.s(f"SUBSCRIPTION#{subscription_id}"), "SK": ddb.s("CANCELLATION")}
        record = {
            "subscription_id": subscription_id,
            "action_id": action_id,
            "effective": "period_end" if at_period_end else "now",
            "approved_by": approved_by or "",
            "cancelled_at": ddb.iso(self._clock()),
        }
        existing = self.put_once(key, {**key, **{k: ddb.s(v) for k, v in record.items()}})
        if existing is None:
            return {**record, "duplicate": False}
        if ddb.get_str(existing, "action_id") != action_id:
            raise ActionDeclined(f"subscription {subscription_id} was already cancelled")
        return {**_plain(existing), "duplicate": True}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v["S"] for k, v in item.items() if "S" in v and k not in ("PK", "SK")}


_stores: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def ledger(table_name: str) -> RefundLedger:
    """The ledger of ``table_name``, built once per container (client built lazily)."""
    with _lock:
        key = ("ledger", table_name)
        if key not in _stores:
            fail = [v.strip() for v in os.environ.get(FAIL_ORDERS_ENV, "").split(",") if v.strip()]
            _stores[key] = RefundLedger(table_name, fail_order_ids=fail)
        store: RefundLedger = _stores[key]
        return store


def subscriptions(table_name: str) -> SubscriptionBook:
    with _lock:
        key = ("subscriptions", table_name)
        if key not in _stores:
            _stores[key] = SubscriptionBook(table_name)
        book: SubscriptionBook = _stores[key]
        return book
