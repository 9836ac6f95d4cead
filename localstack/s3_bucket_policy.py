"""S3 bucket policies evaluated with their conditions, as AWS does (moto 5.2 ignores them).

moto applies a bucket policy statement whose condition operator it does not know as if the
condition held: the usual TLS-only statement (``Deny s3:* when aws:SecureTransport = false``)
then denies every request, and an ``Allow`` with a condition allows everyone. AWS evaluates the
condition against the request's context; a statement whose condition does not hold does not
apply.

The request context here: ``aws:SecureTransport`` is ``true``. The emulator serves plain HTTP on
127.0.0.1 as the stand-in for AWS's HTTPS endpoints (every SDK and the Terraform provider use
HTTPS on AWS), so counting its requests as TLS is what the deployed system will see. Operators
this module does not know keep moto's strict reading for a ``Deny`` (applies) and never grant
for an ``Allow``.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

#: What every request to the emulator carries (see the module docstring).
REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def _values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in items]


def _operator_holds(operator: str, expected: list[str], actual: str | None) -> bool | None:
    """True/False for a known operator, None for one this module does not evaluate."""
    base = operator.removesuffix("IfExists")
    if actual is None:  # the key is not in the request: only ...IfExists holds
        return operator.endswith("IfExists")
    if base == "Bool":
        return actual.lower() in (e.lower() for e in expected)
    if base in ("StringEquals", "ArnEquals"):
        return actual in expected
    if base == "StringNotEquals":
        return actual not in expected
    if base in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(fnmatch.fnmatchcase(actual, e) for e in expected)
    return None


def condition_holds(condition: dict[str, dict[str, Any]], effect: str) -> bool:
    """Whether a statement's ``Condition`` block holds for :data:`REQUEST_CONTEXT`."""
    for operator, keys in condition.items():
        if operator == "Null":
            for key, want in keys.items():
                missing = key not in REQUEST_CONTEXT
                if missing != (str(want).lower() == "true"):
                    return False
            continue
        for key, raw in keys.items():
            held = _operator_holds(operator, _values(raw), REQUEST_CONTEXT.get(key))
            if held is None:  # unknown operator: strict either way
                held = effect == "Deny"
            if not held:
                return False
    return True


def install() -> None:
    """Patch moto's bucket permission check to honour statement conditions."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    if getattr(FakeBucket, "_agentocore_policy_conditions", False):
        return

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy.decode())["Statement"]
        permitted = False
        for statement in statements if isinstance(statements, list) else [statements]:
            condition = statement.get("Condition")
            if condition and not condition_holds(condition, statement.get("Effect", "")):
                continue
            unconditional = {k: v for k, v in statement.items() if k != "Condition"}
            result = IAMPolicyStatement(unconditional).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    FakeBucket._agentocore_policy_conditions = True  # type: ignore[attr-defined]
