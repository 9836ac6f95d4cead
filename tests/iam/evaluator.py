"""IAM policy evaluation for the tests: ``@cloud-copilot/iam-simulate`` (npm, pinned in
``package-lock.json``; ``make iam-sim`` installs it) run by ``simulate.mjs``, one Node process
per batch.

The evaluator implements AWS's evaluation logic (explicit deny, set operators, ``Null``,
multivalued keys such as ``dynamodb:LeadingKeys``) and validates actions, resource ARNs and
context keys against AWS's Service Authorization Reference. No evaluator derives the request
context: every request states it, as the service would send it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "simulate.mjs"
PACKAGE = HERE / "node_modules" / "@cloud-copilot" / "iam-simulate"
ACCOUNT = "123456789012"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:role/agentocore-test"

Decision = Literal["Allowed", "ImplicitlyDenied", "ExplicitlyDenied"]
Policy = Mapping[str, Any]


class EvaluatorUnavailable(RuntimeError):
    """Node or the installed simulator is missing (``make iam-sim``)."""


def unavailable() -> str | None:
    """Why the evaluator cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not PACKAGE.is_dir():
        return f"{PACKAGE} is not installed: run `make iam-sim`"
    return None


@dataclass(frozen=True)
class Request:
    """One API call as IAM authorizes it: action, one resource ARN, the request context."""

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    name: str = ""
    principal: str = PRINCIPAL
    resource_policy: Policy | None = None  # the key/queue/topic/bucket policy, if it has one

    def describe(self) -> str:
        label = f"{self.name}: " if self.name else ""
        return f"{label}{self.action} on {self.resource} with {dict(self.context)}"


@dataclass(frozen=True)
class Result:
    """The decision (None when the request could not be evaluated: see ``errors``)."""

    request: Request
    decision: Decision | None
    reason: str
    errors: tuple[str, ...] = ()
    ignored_context_keys: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"

    @property
    def problems(self) -> tuple[str, ...]:
        """Errors, and context keys the action does not take (a typo in a case, or a context
        the service would not send): either makes the decision meaningless."""
        ignored = tuple(
            f"context key not used by the action: {k}" for k in self.ignored_context_keys
        )
        return self.errors + ignored

    def __str__(self) -> str:
        verdict = self.decision or "ERROR"
        return f"{verdict}: {self.request.describe()} -- {self.reason}"


def evaluate_batches(
    batches: Sequence[tuple[Sequence[Policy], Sequence[Request]]],
) -> list[list[Result]]:
    """Evaluate each batch's requests against its identity policies (all in one Node run)."""
    why = unavailable()
    if why:
        raise EvaluatorUnavailable(why)
    policy_sets = [
        [{"name": f"policy{i}", "policy": dict(doc)} for i, doc in enumerate(policies)]
        for policies, _ in batches
    ]
    wire = [
        {
            "policySet": index,
            "principal": request.principal,
            "accountId": ACCOUNT,
            "action": request.action,
            "resource": request.resource,
            "context": {
                k: v if isinstance(v, str) else list(v) for k, v in request.context.items()
            },
            **({"resourcePolicy": request.resource_policy} if request.resource_policy else {}),
        }
        for index, (_, requests) in enumerate(batches)
        for request in requests
    ]
    proc = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps({"policySets": policy_sets, "requests": wire}),
        capture_output=True,
        text=True,
        cwd=HERE,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"simulate.mjs exited with {proc.returncode}: {proc.stderr[-2000:]}")
    raw: list[dict[str, Any]] = json.loads(proc.stdout)
    flat = [request for _, requests in batches for request in requests]
    results = iter(
        Result(
            request=request,
            decision=r["decision"],
            reason=r["reason"],
            errors=tuple(r["errors"]),
            ignored_context_keys=tuple(r["ignoredContextKeys"]),
        )
        for request, r in zip(flat, raw, strict=True)
    )
    return [[next(results) for _ in requests] for _, requests in batches]


def evaluate(policies: Sequence[Policy], requests: Sequence[Request]) -> list[Result]:
    """Evaluate ``requests`` against one principal's identity policies."""
    return evaluate_batches([(policies, requests)])[0]
