"""Retries of transient model errors: exponential backoff with full jitter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from agentocore.models.base import RetryableModelError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """``attempts`` tries in all; before try n+1 sleep ``uniform(0, min(cap, base * 2**n))``.

    This runs on top of botocore's adaptive retry mode: botocore smooths the request rate inside
    one call, this loop outlasts longer throttling bursts and ModelNotReady warm-ups.
    """

    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delays(self) -> list[float]:
        """The sleeps a fully failing call would take (for logs and tests)."""
        return [
            self.rng.uniform(0, min(self.cap_s, self.base_s * 2**n))
            for n in range(self.attempts - 1)
        ]

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn``; retry :class:`RetryableModelError` until the attempts run out."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except RetryableModelError as exc:
                if attempt + 1 >= self.attempts:
                    raise
                delay = self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))
                log.warning(
                    "model call retry",
                    extra={"code": exc.code, "attempt": attempt + 1, "sleep_s": round(delay, 3)},
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
