"""Who a run acts for: a user id (the JWT ``sub``, or a trusted trigger's payload) or a
trigger's own principal (``s3:<bucket>``, ``sns:<topic>``, ``schedule:<name>``).

User ids share one pattern, which cannot produce an internal key (those contain ``#``, e.g. the
approvals' index value ``APPROVALS#pending``) and cannot pose as a trigger principal.
"""

from __future__ import annotations

import re
from collections.abc import Collection

#: A user id: the characters of JWT subjects (Cognito's UUIDs, e-mails, provider ids).
USER_ID = re.compile(r"^[A-Za-z0-9@._:+-]{1,128}$")
#: Non-HTTP triggers whose runs act as their own principal unless trusted (see Settings).
TRIGGER_KINDS = ("s3", "sns", "schedule")
_PRINCIPAL_PREFIXES = tuple(f"{kind}:" for kind in (*TRIGGER_KINDS, "events"))
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]+")


class IdentityError(ValueError):
    """A user id that is malformed or reserved."""


def user_id(value: object) -> str:
    """``value`` as a user id, or :class:`IdentityError` (malformed, or a trigger principal)."""
    text = value if isinstance(value, str) else ""
    if not USER_ID.match(text):
        raise IdentityError(f"not an acceptable user id: {str(value)[:80]!r}")
    if text.startswith(_PRINCIPAL_PREFIXES):
        raise IdentityError(f"user id {text!r} is reserved for a trigger's principal")
    return text


def principal(kind: str, name: str) -> str:
    """A trigger's own identity, e.g. ``s3:agentocore-prod-inbox``."""
    return f"{kind}:{_UNSAFE.sub('-', name).strip('-')[:100] or kind}"


def trigger_user(kind: str, name: str, claimed: object | None, trusted: Collection[str]) -> str:
    """The identity a trigger's run acts as: the payload's user id only when this kind of
    trigger is trusted (validated like a JWT sub), else the trigger's principal."""
    if claimed is None or claimed == "" or kind not in trusted:
        return principal(kind, name)
    return user_id(claimed)
