"""EventBridge content filtering as strict as AWS (written against moto 5.2.x).

moto compares with Python's ``==`` and ``<=``, where ``True == 1`` and ``False == 0``: a JSON
``false`` matches the value filter ``[0]``, ``0`` matches ``[false]``, and ``true`` matches
``{"numeric": ["<=", 1000]}``; ``1e12`` matches numeric filters too. AWS keeps JSON types apart
(booleans never equal numbers, never match a numeric filter) and compares numbers only within
-5.0e9..+5.0e9. moto's ``wildcard`` is a regex without DOTALL: ``*`` does not match across a
newline, so ``{"wildcard": "*"}`` misses a string with one; AWS's ``*`` matches any
characters. A rule that routes on a number (an approval threshold) must not be tested against a
more forgiving matcher than the one it runs on.

Installed by ``emulator.apply_hooks()``; tests that use moto's matcher install it too.
"""

from __future__ import annotations

import re
from typing import Any

NUMERIC_LIMIT = 5.0e9


def _comparable(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and -NUMERIC_LIMIT <= value <= NUMERIC_LIMIT
    )


def _same(value: Any, expected: Any) -> bool:
    """JSON equality: a boolean equals only a boolean."""
    return isinstance(value, bool) == isinstance(expected, bool) and value == expected


def _wildcard(item: Any, pattern: str) -> bool:
    """AWS wildcard matching: ``*`` is any run of characters (newlines too); ``\\*`` and
    ``\\\\`` are a literal star and backslash."""
    if not isinstance(item, str):
        return False
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.fullmatch("".join(parts), item, re.DOTALL) is not None


def install() -> None:
    """Patch moto's matchers (idempotent)."""
    from moto.events.models import UNDEFINED, EventPattern

    if getattr(EventPattern, "_agentocore_strict", False):
        return
    original = EventPattern._does_item_match_named_filter

    def match_filters(self: Any, item: Any, filters: list[Any]) -> bool:
        for f in filters:
            if isinstance(f, str | bool | int | float) or f is None:
                if item is UNDEFINED:
                    continue
                values = item if isinstance(item, list) else [item]
                if any(_same(v, f) for v in values):
                    return True
            elif isinstance(f, dict) and self._does_item_match_named_filter(item, f):
                return True
        return False

    def matches(item: Any, pattern: dict[str, Any]) -> bool:
        if next(iter(pattern), None) == "numeric":
            if isinstance(item, list):
                item = [v for v in item if _comparable(v)]
                if not item:
                    return False
            elif not _comparable(item) and isinstance(item, int | float):
                return False
        return bool(original(item, pattern))

    EventPattern._does_item_match_named_filter = staticmethod(matches)  # type: ignore[method-assign]
    EventPattern._does_item_match_filters = match_filters  # type: ignore[method-assign]
    EventPattern._wildcard_match = staticmethod(_wildcard)  # type: ignore[method-assign]
    EventPattern._agentocore_strict = True  # type: ignore[attr-defined]
