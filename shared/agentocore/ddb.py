"""Small helpers for DynamoDB's low-level attribute-value format."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from agentocore.aws import LazyClient


def s(value: str) -> dict[str, str]:
    """A string attribute."""
    return {"S": value}


def n(value: int | float | Decimal) -> dict[str, str]:
    """A number attribute (floats go through ``repr`` so no binary noise is stored)."""
    if isinstance(value, float):
        value = Decimal(repr(round(value, 10)))
    return {"N": str(value)}


def get_str(item: dict[str, Any], key: str) -> str | None:
    return str(item[key]["S"]) if key in item and "S" in item[key] else None


def get_int(item: dict[str, Any], key: str) -> int:
    return int(Decimal(item[key]["N"])) if key in item else 0


def get_float(item: dict[str, Any], key: str) -> float:
    return float(item[key]["N"]) if key in item else 0.0


def iso(ts: float) -> str:
    """UTC ISO-8601 with milliseconds and a Z (sorts as text)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_condition_failure(exc: BaseException) -> bool:
    """True for a failed ConditionExpression (plain or inside a cancelled transaction)."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


class TableStore:
    """Base of the classes keeping items in the single table: the table name, a lazily built
    client (or an injected one), a clock and the items' time to live."""

    def __init__(
        self,
        table_name: str,
        *,
        client: Any | None = None,
        ttl_days: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.ttl_days = ttl_days
        self._client = LazyClient(
            "dynamodb", client, retries={"mode": "standard", "max_attempts": 5}
        )
        self._clock = clock

    @property
    def client(self) -> Any:
        return self._client.get()

    def expires(self, now: float) -> dict[str, str]:
        """The ``ttl`` attribute for an item written at ``now``."""
        return n(int(now) + self.ttl_days * 86400)
