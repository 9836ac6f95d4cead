"""Approval rules as data: never, always, a numeric payload field above a threshold, a boolean
payload field set, or any of several rules.

One rule has two readings that must agree: :meth:`Approval.required` (the workers enforce it
on every event, so a misrouted or forged event cannot skip an approval) and
:meth:`Approval.routes` (the EventBridge content patterns that send a request to
``approval_worker`` or ``standard_worker``).
"""

from __future__ import annotations

import itertools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["never", "always", "above", "flag", "any"]
#: A payload sub-pattern (``{"amount": [{"numeric": [">", 1000]}]}``); ``{}`` matches all.
Pattern = dict[str, Any]
#: Field values that are not what the rule tests (missing, null, text, the other JSON type):
#: they go to approval_worker, which refuses a payload its model rejects.
_MISSING = [{"exists": False}, None, {"wildcard": "*"}]
_NOT_A_NUMBER: list[Any] = [*_MISSING, True, False]
#: EventBridge compares numbers only within +-5e9 (payload models must bound tested fields).
EVENTBRIDGE_NUMBER_LIMIT = 5.0e9
_NOT_A_BOOL: list[Any] = [*_MISSING, {"numeric": [">=", -5e9, "<=", 5e9]}]


class Approval(BaseModel):
    """When an action needs a human. Build with the class methods, not the constructor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    field: str | None = None
    threshold: float | None = None
    rules: tuple[Approval, ...] = Field(default=())

    @classmethod
    def never(cls) -> Approval:
        """Performed without approval."""
        return cls(kind="never")

    @classmethod
    def always(cls) -> Approval:
        """Every request waits for a human."""
        return cls(kind="always")

    @classmethod
    def above(cls, field: str, threshold: float) -> Approval:
        """Approval when the numeric payload ``field`` is greater than ``threshold``."""
        if not math.isfinite(threshold):
            raise ValueError("threshold must be a finite number")
        return cls(kind="above", field=field, threshold=float(threshold))

    @classmethod
    def when(cls, field: str) -> Approval:
        """Approval when the boolean payload ``field`` is true."""
        return cls(kind="flag", field=field)

    @classmethod
    def any(cls, *rules: Approval) -> Approval:
        """Approval when any of ``rules`` asks for it."""
        if len(rules) < 2:
            raise ValueError("Approval.any needs at least two rules")
        return cls(kind="any", rules=tuple(rules))

    # -- the workers' reading ------------------------------------------------------------

    def required(self, payload: Mapping[str, Any]) -> bool:
        """Whether a request with this (validated, JSON-mode) payload needs an approval.

        A field that is missing or of the wrong type counts as "needs approval": the safe side.
        """
        if self.kind == "never":
            return False
        if self.kind == "always":
            return True
        if self.kind == "any":
            return any(rule.required(payload) for rule in self.rules)
        value = payload.get(str(self.field))
        if self.kind == "above":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return True
            return float(value) > float(self.threshold or 0)
        return value is not False  # flag: only an explicit false skips the approval

    # -- the router's reading ------------------------------------------------------------

    def routes(self) -> tuple[list[Pattern], list[Pattern]]:
        """``(approval, standard)``: payload sub-patterns (alternatives) that route a request to
        approval_worker / standard_worker. The standard side matches only payloads that prove
        no approval is needed; the approval side is its complement, so every request reaches
        exactly one worker (a malformed one reaches approval_worker, which refuses it: DLQ)."""
        if self.kind == "never":
            return [], [{}]
        if self.kind == "always":
            return [{}], []
        field = str(self.field)
        if self.kind == "above":
            return (
                [{field: [{"numeric": [">", self.threshold]}, *_NOT_A_NUMBER]}],
                [{field: [{"numeric": ["<=", self.threshold]}]}],
            )
        if self.kind == "flag":
            return [{field: [True, *_NOT_A_BOOL]}], [{field: [False]}]
        approval: list[Pattern] = []
        standards: list[list[Pattern]] = []
        for rule in self.rules:
            rule_approval, rule_standard = rule.routes()
            approval.extend(rule_approval)
            standards.append(rule_standard)
        # standard only when no rule asks for approval: every rule's standard side at once
        standard = [_merge(combo) for combo in itertools.product(*standards)]
        return _dedupe(approval), _dedupe(standard)

    def fields(self) -> list[tuple[str, Kind]]:
        """The payload fields this rule reads, with the kind of test."""
        if self.kind == "any":
            return [f for rule in self.rules for f in rule.fields()]
        return [(str(self.field), self.kind)] if self.field else []

    def describe(self) -> str:
        """Human-readable, for docs and approval notices."""
        if self.kind == "never":
            return "never needs approval"
        if self.kind == "always":
            return "always needs approval"
        if self.kind == "above":
            return f"needs approval when {self.field} > {self.threshold:g}"
        if self.kind == "flag":
            return f"needs approval when {self.field} is true"
        return " or ".join(rule.describe() for rule in self.rules)

    def check_payload_model(self, model: type[BaseModel]) -> None:
        """Raise ValueError unless every field the rule reads is a field of ``model`` with the
        right type (a number for ``above``, a bool for ``when``); a number must be bounded
        within +-5e9 (``Field(ge=..., le=...)``), the range EventBridge compares numbers in."""
        hints = typing.get_type_hints(model)
        for name, kind in self.fields():
            info = model.model_fields.get(name)
            if info is None:
                raise ValueError(f"approval rule reads {name!r}, which {model.__name__} lacks")
            hint = hints.get(name)
            allowed = {bool} if kind == "flag" else {int, float}
            found = set(typing.get_args(hint)) if _is_union(hint) else {hint}
            if not found or not found <= allowed:
                what = "bool" if kind == "flag" else "int or float"
                raise ValueError(
                    f"approval rule reads {model.__name__}.{name} as {what}, but it is {hint}"
                )
            if kind == "above":
                _check_bounds(model.__name__, name, info.metadata)


def _check_bounds(model: str, name: str, metadata: list[Any]) -> None:
    low = [getattr(m, a) for m in metadata for a in ("ge", "gt") if hasattr(m, a)]
    high = [getattr(m, a) for m in metadata for a in ("le", "lt") if hasattr(m, a)]
    if (
        not low
        or not high
        or min(low) < -EVENTBRIDGE_NUMBER_LIMIT
        or max(high) > (EVENTBRIDGE_NUMBER_LIMIT)
    ):
        raise ValueError(
            f"approval rule compares {model}.{name}: bound it within +-5e9 (e.g. "
            "Field(gt=0, le=1_000_000)); EventBridge cannot compare numbers outside that range"
        )


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _merge(patterns: tuple[Pattern, ...]) -> Pattern:
    merged: Pattern = {}
    for pattern in patterns:
        for key, value in pattern.items():
            if key in merged and merged[key] != value:
                raise ValueError(f"approval rules test {key!r} twice in incompatible ways")
            merged[key] = value
    return merged


def _dedupe(patterns: list[Pattern]) -> list[Pattern]:
    out: list[Pattern] = []
    for p in patterns:
        if p not in out:
            out.append(p)
    return out
