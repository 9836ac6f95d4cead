"""What a load-test user sends and what counts as a failure (no Locust import: gevent's
monkey-patching stays out of whoever imports this, e.g. the unit tests)."""

from __future__ import annotations

import json
import os
from typing import Any

#: (request name, message, weight, the tool the rules model calls for it).
MESSAGES: tuple[tuple[str, str, int, str], ...] = (
    ("order_status", "Where is order A-1001?", 5, "get_order_status"),
    ("weather", "What's the weather in Lima?", 3, "get_weather"),
    ("refund", "Refund order A-1001, it arrived broken", 2, "trigger_refund"),
)
#: Seconds between an answer and the user's next message (the seed: 1-3 s).
DEFAULT_WAIT_S = (1.0, 3.0)
#: Run statuses in a 200 answer that count as failures.
FAILED_RUNS = frozenset({"failed", "budget_exceeded"})


def failure_reason(status: int, body: bytes | str | None) -> str | None:
    """Why an answer counts as a failure (``HTTP 429 budget_exceeded``), or None: 2xx is a
    success unless a 200 reports a run that failed or stopped on a budget."""
    if status == 0:
        return "no answer (connection error or timeout)"
    try:
        payload: Any = json.loads(body or b"null")
    except ValueError:
        payload = None
    if not 200 <= status < 300:
        error = payload.get("error") if isinstance(payload, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return f"HTTP {status} {code or 'error'}"
    run_status = payload.get("status") if isinstance(payload, dict) else None
    if run_status in FAILED_RUNS:
        return f"HTTP {status} run {run_status}"
    return None


def authorization(user_id: str) -> str:
    """The Authorization header: a deployed stage's JWT (``AGENTOCORE_JWT``), else the local
    API front's development identity (the bearer token is the user id)."""
    jwt = os.environ.get("AGENTOCORE_JWT", "").strip()
    return f"Bearer {jwt or user_id}"


def wait_bounds(value: str | None = None) -> tuple[float, float]:
    """The think time's bounds from ``AGENTOCORE_LOAD_WAIT_S`` (``"1,3"``; ``"0,0"`` sends
    back to back), else 1-3 s."""
    raw = os.environ.get("AGENTOCORE_LOAD_WAIT_S", "") if value is None else value
    if not raw.strip():
        return DEFAULT_WAIT_S
    low, high = (float(part) for part in raw.split(","))
    if not 0 <= low <= high:
        raise ValueError(f"wait bounds must be 0 <= min <= max, got {raw!r}")
    return low, high
