"""One-line descriptions of Pydantic validation errors (API answers, event contract errors)."""

from __future__ import annotations

from pydantic import ValidationError


def summary(exc: ValidationError, *, root: str = "body") -> str:
    """``field.path: message; other: message``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or root}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
