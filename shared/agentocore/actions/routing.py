"""EventBridge routing generated from the catalog, and the catalog file Terraform reads.

    python -m agentocore.actions.routing example_app --out functions/example_app/catalog.json
    python -m agentocore.actions.routing example_app --check functions/example_app/catalog.json

``<module>`` names the application module (its ``catalog`` attribute is the
:class:`~agentocore.actions.catalog.ActionCatalog`). The file lists, per action type, its
version, approval rule and the content pattern of each worker's rule; ``unrouted`` is the
catch-all for requests no action rule takes (undeclared types, other detail-types). Terraform
turns each pattern into one rule (``jsondecode(file(...))``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from agentocore.actions.catalog import ActionCatalog, ActionType
from agentocore.events.actions import ACTION_SOURCE as SOURCE
from agentocore.events.actions import REQUEST_DETAIL_TYPE as DETAIL_TYPE

FORMAT = 1
#: worker function -> the short verb in its rules' keys
#: worker -> the short verb in its rules' keys
WORKERS = {"approval_worker": "approve", "standard_worker": "perform"}
#: EventBridge's limit on an event pattern's length
MAX_PATTERN_CHARS = 4096
MAX_RULE_KEY = 30


def rule_key(name: str, worker: str) -> str:
    """A short, unique, stable key for one action type's rule to ``worker`` (rule names are
    ``<bus>-<key>``, at most 64 characters)."""
    key = f"{WORKERS[worker]}-{name}"
    if len(key) <= MAX_RULE_KEY:
        return key
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{key[: MAX_RULE_KEY - 9]}-{digest}"


def _request(detail: dict[str, Any]) -> dict[str, Any]:
    return {"source": [SOURCE], "detail-type": [DETAIL_TYPE], "detail": detail}


def _with_payload(name: str, alternatives: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not alternatives:
        return None
    base: dict[str, Any] = {"action_type": [name]}
    payloads = [{"payload": p} if p else {} for p in alternatives]
    if len(payloads) == 1:
        return _request({**base, **payloads[0]})
    return _request({**base, "$or": payloads})


def routes(action: ActionType) -> dict[str, dict[str, Any] | None]:
    """Worker -> the content pattern of its rule for ``action`` (None: no rule)."""
    approval, standard = action.approval.routes()
    return {
        "approval_worker": _with_payload(action.name, approval),
        "standard_worker": _with_payload(action.name, standard),
    }


def unrouted(catalog: ActionCatalog) -> dict[str, Any]:
    """Events on the actions source that no action type's rule takes: other detail-types,
    undeclared action types, no action type."""
    request: dict[str, Any] = {"detail-type": [DETAIL_TYPE]}
    if len(catalog):
        undeclared = [{"anything-but": catalog.names}, {"exists": False}, None]
        request["detail"] = {"action_type": undeclared}
    return {
        "source": [SOURCE],
        "$or": [{"detail-type": [{"anything-but": [DETAIL_TYPE]}]}, request],
    }


def export(catalog: ActionCatalog) -> dict[str, Any]:
    """The catalog file's content."""
    actions = {}
    for action in sorted(catalog, key=lambda a: a.name):
        actions[action.name] = {
            "version": action.version,
            "description": action.description,
            "approval": action.approval.model_dump(mode="json", exclude_defaults=True),
            "approval_text": action.approval.describe(),
            "rules": {
                worker: {"key": rule_key(action.name, worker), "pattern": pattern}
                for worker, pattern in routes(action).items()
                if pattern is not None
            },
        }
    return {
        "format": FORMAT,
        "source": SOURCE,
        "detail_type": DETAIL_TYPE,
        "actions": actions,
        "unrouted": unrouted(catalog),
        # partition-key prefixes the handlers own (standard_worker's dynamodb:LeadingKeys)
        "items": catalog.item_prefixes,
    }


def render(catalog: ActionCatalog) -> str:
    content = export(catalog)
    patterns = [content["unrouted"]] + [
        rule["pattern"]
        for action in content["actions"].values()
        for rule in action["rules"].values()
    ]
    for pattern in patterns:
        size = len(json.dumps(pattern, separators=(",", ":")))
        if size > MAX_PATTERN_CHARS:
            raise ValueError(f"an event pattern of {size} characters exceeds EventBridge's limit")
    return json.dumps(content, indent=2, sort_keys=True) + "\n"


def load_catalog(module: str) -> ActionCatalog:
    """The catalog of an application module, checked as the functions load it."""
    from agentocore.runtime import AppError, load_app  # the runtime imports the whole core

    try:
        catalog: ActionCatalog = load_app(module).catalog
    except AppError as exc:
        raise SystemExit(str(exc)) from exc
    return catalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check an action catalog file.")
    parser.add_argument("module", help="application module with a `catalog` attribute")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the catalog file")
    group.add_argument("--check", type=Path, help="fail unless the file matches the module")
    args = parser.parse_args(argv)
    text = render(load_catalog(args.module))
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")
        return 0
    current = args.check.read_text() if args.check.is_file() else ""
    if current != text:
        print(
            f"{args.check} does not match {args.module}'s declarations; regenerate it with\n"
            f"  python -m agentocore.actions.routing {args.module} --out {args.check}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.check} matches {args.module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
