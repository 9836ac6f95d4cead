"""Small helpers for DynamoDB's low-level attribute-value format."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


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
