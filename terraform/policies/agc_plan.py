"""A Terraform plan (``terraform show -json``) as the CKV_AGC policies read it.

Values come from the plan (``resource_changes`` and, for data sources read while planning,
``prior_state``); a value is *unknown* where Terraform only knows it after apply. Which resource
an attribute points at comes from its known value (a queue/function/bucket name or ARN) or,
when the value is unknown, from the configuration's references, followed through module
outputs, module variables and ``for_each`` (``each.key`` picks the instance with the same key).
References through ``local.*`` cannot be followed: the plan's configuration has no locals.

Pure Python (no checkov import), so the resolver is testable on its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Key = str | int | None
Step = tuple[str, Key]  # one module call: (name, instance key)
InstanceId = tuple[tuple[Step, ...], str, str, str, Key]  # module path, mode, type, name, key

_NOT_RESOURCES = {"path", "terraform", "self", "count", "each"}


def traversal(text: str) -> list[tuple[str, Key]]:
    """``module.a["k"].b[0]`` -> ``[("module", None), ("a", "k"), ("b", 0)]``."""
    tokens: list[tuple[str, Key]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == ".":
            i += 1
        elif char == "[":
            if text[i + 1] == '"':
                j = i + 2
                while text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                key: Key = json.loads(text[i + 1 : j + 1])
                i = j + 2  # past '"]'
            else:
                j = text.index("]", i)
                raw = text[i + 1 : j]
                key = int(raw) if raw.isdigit() else raw
                i = j + 1
            if tokens and tokens[-1][1] is None:
                tokens[-1] = (tokens[-1][0], key)
            else:
                tokens.append(("", key))
        else:
            j = i
            while j < n and text[j] not in ".[":
                j += 1
            tokens.append((text[i:j], None))
            i = j
    return tokens


def module_path(address: str | None) -> tuple[Step, ...]:
    """``module.a["k"].module.b`` -> ``(("a", "k"), ("b", None))``."""
    if not address:
        return ()
    tokens = traversal(address)
    return tuple(tokens[i + 1] for i in range(0, len(tokens), 2) if tokens[i][0] == "module")


def render_path(path: tuple[Step, ...]) -> str:
    """The module address of a module path (Terraform's own quoting for keys)."""
    parts = []
    for name, key in path:
        index = "" if key is None else f"[{json.dumps(key) if isinstance(key, str) else key}]"
        parts.append(f"module.{name}{index}")
    return ".".join(parts)


@dataclass
class Instance:
    """One resource or data source instance of the plan."""

    address: str
    module: tuple[Step, ...]
    mode: str
    type: str
    name: str
    key: Key
    values: dict[str, Any]
    unknown: Any  # after_unknown: True where a value is known only after apply
    config: dict[str, Any]
    actions: list[str]

    def get(self, *path: str | int) -> tuple[bool, Any]:
        """``(known, value)`` of an attribute (``"retry_policy", 0, "maximum_retry_attempts"``)."""
        value: Any = self.values
        unknown: Any = self.unknown
        for step in path:
            if unknown is True:
                return False, None
            value = _child(value, step)
            unknown = _child(unknown, step)
        if unknown is True:
            return False, None
        return True, value

    def known(self, *path: str | int) -> Any:
        """The attribute's value, or None where it is unknown or unset."""
        return self.get(*path)[1]


def _child(container: Any, step: str | int) -> Any:
    if isinstance(container, dict) and isinstance(step, str):
        return container.get(step)
    if isinstance(container, list) and isinstance(step, int) and 0 <= step < len(container):
        return container[step]
    return None


@dataclass
class Resolution:
    """Where an attribute points: resource instance addresses, and what could not be followed."""

    targets: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)

    def add(self, other: Resolution) -> None:
        self.targets += [t for t in other.targets if t not in self.targets]
        self.opaque += [o for o in other.opaque if o not in self.opaque]


@dataclass(frozen=True)
class _Context:
    module: tuple[Step, ...]
    each_key: Key = None
    for_each: dict[str, Any] | None = None


class Plan:
    """Index of a ``terraform show -json`` document."""

    _cache: dict[str, Plan] = {}

    def __init__(self, doc: dict[str, Any], path: str = "") -> None:
        self.path = path
        self.doc = doc
        self.root_config: dict[str, Any] = doc.get("configuration", {}).get("root_module", {})
        self.instances: dict[str, Instance] = {}
        self._ids: dict[InstanceId, Instance] = {}
        self._memo: dict[tuple[str, tuple[str | int, ...]], Resolution] = {}
        self.cache: dict[str, Any] = {}  # per-plan results the checks share
        for change in doc.get("resource_changes", []):
            actions = change.get("change", {}).get("actions", [])
            if actions in (["delete"], ["forget"]):
                continue
            self._add(change, change["change"].get("after") or {}, change["change"], actions)
        for resource in _state_resources(doc.get("prior_state", {}).get("values", {})):
            if resource["address"] not in self.instances and resource.get("mode") == "data":
                self._add(resource, resource.get("values") or {}, {}, ["read"])

    @classmethod
    def load(cls, path: str) -> Plan | None:
        """The plan in ``path`` (cached), or None when the file is not a Terraform plan."""
        if path not in cls._cache:
            try:
                doc = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                return None
            if not isinstance(doc, dict) or "resource_changes" not in doc:
                return None
            cls._cache[path] = cls(doc, path)
        return cls._cache[path]

    def _add(
        self,
        entry: dict[str, Any],
        values: dict[str, Any],
        change: dict[str, Any],
        actions: list[str],
    ) -> None:
        module = module_path(entry.get("module_address"))
        mode = entry.get("mode", "managed")
        instance = Instance(
            address=entry["address"],
            module=module,
            mode=mode,
            type=entry["type"],
            name=entry["name"],
            key=entry.get("index"),
            values=values,
            unknown=change.get("after_unknown") or {},
            config=self._resource_config(module, mode, entry["type"], entry["name"]),
            actions=actions,
        )
        self.instances[instance.address] = instance
        self._ids[(module, mode, instance.type, instance.name, instance.key)] = instance

    # --- configuration -------------------------------------------------------------------

    def module_config(self, path: tuple[Step, ...]) -> dict[str, Any]:
        config = self.root_config
        for name, _ in path:
            config = config.get("module_calls", {}).get(name, {}).get("module", {})
        return config

    def _resource_config(
        self, module: tuple[Step, ...], mode: str, rtype: str, name: str
    ) -> dict[str, Any]:
        for resource in self.module_config(module).get("resources", []):
            if (resource.get("mode"), resource["type"], resource["name"]) == (mode, rtype, name):
                return dict(resource)
        return {}

    def expression(self, instance: Instance, *path: str | int) -> dict[str, Any] | None:
        """The configuration expression of an attribute (None where it is not configured)."""
        node: Any = instance.config.get("expressions", {})
        for step in path:
            if isinstance(node, list):  # a block: one entry per occurrence
                node = node[step if isinstance(step, int) else 0] if node else None
                if isinstance(step, int):
                    continue
            node = _child(node, step)
            if node is None:
                return None
        if isinstance(node, list):
            node = node[0] if node else None
        return node if isinstance(node, dict) else None

    # --- queries -------------------------------------------------------------------------

    def of_type(self, *types: str, mode: str = "managed") -> list[Instance]:
        return [i for i in self.instances.values() if i.type in types and i.mode == mode]

    def accounts(self) -> set[str]:
        """Account ids the plan ran against (``aws_caller_identity`` data sources)."""
        found = set()
        for identity in self.of_type("aws_caller_identity", mode="data"):
            account = identity.known("account_id")
            if isinstance(account, str) and account:
                found.add(account)
        return found

    def refs(self, instance: Instance, *path: str | int) -> Resolution:
        """The instances an attribute's configured expression refers to."""
        memo_key = (instance.address, path)
        if memo_key not in self._memo:
            expression = self.expression(instance, *path)
            context = _Context(
                module=instance.module,
                each_key=instance.key,
                for_each=instance.config.get("for_each_expression")
                or instance.config.get("count_expression"),
            )
            resolution = Resolution()
            if expression is not None:
                resolution = self._resolve(expression, context, None, depth=0)
            self._memo[memo_key] = resolution
        return self._memo[memo_key]

    def targets(
        self, instance: Instance, rtype: str, *path: str | int
    ) -> tuple[list[Instance], str]:
        """Instances of ``rtype`` an attribute designates, by known value or by reference.

        Returns ``(instances, why)``; ``why`` says why nothing was found."""
        known, value = instance.get(*path)
        attribute = ".".join(str(p) for p in path)
        if known:
            if not isinstance(value, str) or not value:
                return [], f"{attribute} is not set"
            found = self.by_identity(rtype, value)
            return found, "" if found else f"{attribute} = {value!r} is no {rtype} of this plan"
        resolution = self.refs(instance, *path)
        found = [self.instances[t] for t in resolution.targets if self.instances[t].type == rtype]
        if found:
            return found, ""
        if resolution.opaque:
            why = f"via {', '.join(resolution.opaque)}, which a plan cannot trace"
        elif resolution.targets:
            why = f"it refers to {', '.join(resolution.targets)}"
        else:
            why = "its expression has no traceable reference"
        return [], f"{attribute} is unknown until apply and {why}"

    def by_identity(self, rtype: str, value: str) -> list[Instance]:
        """Instances of ``rtype`` whose name/ARN/URL is ``value``."""
        name = identity_name(rtype, value)
        attribute = IDENTITY_ATTRIBUTE.get(rtype)
        if name is None or attribute is None:
            return []
        return [i for i in self.of_type(rtype) if i.known(attribute) == name]

    # --- reference resolution ------------------------------------------------------------

    def _resolve(
        self, expression: dict[str, Any], context: _Context, selector: Key, depth: int
    ) -> Resolution:
        result = Resolution()
        if depth > 20:
            result.opaque.append("(reference chain too deep)")
            return result
        references: list[str] = list(expression.get("references") or [])
        # Terraform lists every prefix too (module.q.arns, module.q): keep the longest.
        references = [
            r
            for r in references
            if not any(
                o != r and (o.startswith(r + ".") or o.startswith(r + "[")) for o in references
            )
        ]
        keyed = any(r == "count.index" or r.startswith("each.key") for r in references)
        if keyed and context.each_key is not None:
            selector = context.each_key
        for reference in references:
            if reference == "count.index" or reference.startswith("each.key"):
                continue
            result.add(self._resolve_reference(reference, context, selector, depth))
        return result

    def _resolve_reference(
        self, reference: str, context: _Context, selector: Key, depth: int
    ) -> Resolution:
        tokens = traversal(reference)
        head = tokens[0][0]
        result = Resolution()
        if head == "each":  # each.value...: the element of the for_each collection
            if context.for_each is None:
                result.opaque.append(reference)
                return result
            inner = _Context(module=context.module)
            return self._resolve(context.for_each, inner, context.each_key, depth + 1)
        if head == "var":
            if not context.module:
                return result  # a root variable: a value, never a resource
            parent, (call_name, call_key) = context.module[:-1], context.module[-1]
            call = self.module_config(parent).get("module_calls", {}).get(call_name, {})
            variable = call.get("expressions", {}).get(tokens[1][0])
            if variable is None:
                return result  # the variable's default: a constant
            if tokens[1][1] is not None:
                selector = tokens[1][1]
            outer = _Context(
                module=parent,
                each_key=call_key,
                for_each=call.get("for_each_expression") or call.get("count_expression"),
            )
            return self._resolve(variable, outer, selector, depth + 1)
        if head == "local":
            result.opaque.append(reference)
            return result
        if head == "module":
            return self._resolve_module_output(tokens, context, selector, depth)
        if head == "data":
            mode, tokens = "data", tokens[1:]
        elif head in _NOT_RESOURCES or len(tokens) < 2:
            return result
        else:
            mode = "managed"
        rtype, (name, key) = tokens[0][0], tokens[1]
        candidates = [
            i
            for (module, m, t, n, _), i in self._ids.items()
            if module == context.module and (m, t, n) == (mode, rtype, name)
        ]
        if key is not None:
            candidates = [c for c in candidates if c.key == key]
        elif selector is not None and any(c.key == selector for c in candidates):
            candidates = [c for c in candidates if c.key == selector]
        result.targets = [c.address for c in candidates]
        return result

    def _resolve_module_output(
        self, tokens: list[tuple[str, Key]], context: _Context, selector: Key, depth: int
    ) -> Resolution:
        result = Resolution()
        if len(tokens) < 3:
            result.opaque.append(render_path((*context.module, tokens[1])))
            return result
        name, key = tokens[1]
        level = len(context.module)
        paths = sorted(
            {
                i.module[: level + 1]
                for i in self.instances.values()
                if len(i.module) > level
                and i.module[:level] == context.module
                and i.module[level][0] == name
            },
            key=str,
        )
        if key is not None:
            paths = [p for p in paths if p[-1][1] == key]
        elif selector is not None and any(p[-1][1] == selector for p in paths):
            paths = [p for p in paths if p[-1][1] == selector]
            selector = None  # used up by the module's for_each
        output, output_key = tokens[2]
        if output_key is not None:
            selector = output_key
        for path in paths:
            expression = self.module_config(path).get("outputs", {}).get(output, {})
            expression = expression.get("expression")
            if expression is None:
                continue
            result.add(self._resolve(expression, _Context(module=path), selector, depth + 1))
        return result


def _state_resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("root_module", module).get("resources", []))
    for child in module.get("root_module", module).get("child_modules", []):
        found += _state_resources(child)
    return found


IDENTITY_ATTRIBUTE = {
    "aws_sqs_queue": "name",
    "aws_lambda_function": "function_name",
    "aws_s3_bucket": "bucket",
    "aws_apigatewayv2_api": "name",
}


def identity_name(rtype: str, value: str) -> str | None:
    """The name in a name/ARN/URL of a queue, function or bucket."""
    if rtype == "aws_sqs_queue":
        if value.startswith("arn:"):
            parts = value.split(":")
            return parts[5] if len(parts) == 6 and parts[2] == "sqs" else None
        if value.startswith(("http://", "https://")):
            return value.rstrip("/").rsplit("/", 1)[-1]
        return value
    if rtype == "aws_lambda_function":
        if ":function:" in value:  # function ARN, qualified ARN or API Gateway invoke ARN
            return value.split(":function:", 1)[1].split(":", 1)[0].split("/", 1)[0]
        return None if value.startswith("arn:") else value.split(":", 1)[0]
    if rtype == "aws_s3_bucket":
        match = re.fullmatch(r"arn:[^:]+:s3:::([^/]+)(/.*)?", value)
        return match.group(1) if match else (None if value.startswith("arn:") else value)
    return value


# --- IAM policy documents -----------------------------------------------------------------


def policy_statements(
    plan: Plan, instance: Instance, attribute: str = "policy"
) -> tuple[list[dict[str, Any]] | None, str]:
    """The statements (IAM JSON shape) of a policy attribute: from its JSON where the plan
    knows it, else from the ``aws_iam_policy_document`` it is built from. ``(None, why)``
    where neither tells."""
    known, value = instance.get(attribute)
    if not known and plan.expression(instance, attribute) is None:
        return [], ""  # not configured: the service's default policy
    if known:
        if not value:
            return [], ""
        try:
            document = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return None, f"{attribute} is not JSON"
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        return (statements if isinstance(statements, list) else [statements]), ""
    documents, why = plan.targets(instance, "aws_iam_policy_document", attribute)
    if len(documents) != 1:
        return None, why or f"{attribute} is built from {len(documents)} policy documents"
    return document_statements(documents[0])


def document_statements(document: Instance) -> tuple[list[dict[str, Any]] | None, str]:
    """An ``aws_iam_policy_document``'s statements in IAM JSON shape."""
    known, value = document.get("json")
    if known and isinstance(value, str) and value:
        statements = json.loads(value).get("Statement", [])
        return (statements if isinstance(statements, list) else [statements]), ""
    for merged in ("source_policy_documents", "override_policy_documents"):
        known, documents = document.get(merged)
        if not known or documents:
            return None, f"{document.address} merges {merged}; its JSON is unknown until apply"
    statements = []
    for block in document.known("statement") or []:
        statement: dict[str, Any] = {
            "Effect": block.get("effect") or "Allow",
            "Action": block.get("actions") or [],
            "Resource": block.get("resources") or [],
        }
        principals: dict[str, list[str]] = {}
        for principal in block.get("principals") or []:
            principals.setdefault(principal.get("type") or "", []).extend(
                principal.get("identifiers") or []
            )
        if principals:
            statement["Principal"] = principals
        conditions: dict[str, dict[str, list[Any]]] = {}
        for condition in block.get("condition") or []:
            conditions.setdefault(condition.get("test") or "", {})[
                condition.get("variable") or ""
            ] = condition.get("values") or []
        if conditions:
            statement["Condition"] = conditions
        statements.append(statement)
    return statements, ""


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def condition_values(statement: dict[str, Any], operator: str, key: str) -> list[str] | None:
    """Values of ``Condition[operator][key]`` (key case-insensitive), None when absent."""
    block = statement.get("Condition") or {}
    for op, entries in block.items():
        if op != operator or not isinstance(entries, dict):
            continue
        for name, values in entries.items():
            if name.lower() == key.lower():
                return [str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(values)]
    return None


# --- SQS event sources ----------------------------------------------------------------------


@dataclass
class Feed:
    """An ``aws_lambda_event_source_mapping`` reading SQS: its queue(s) and function(s)."""

    mapping: Instance
    queues: list[Instance]
    functions: list[Instance]
    problems: list[str]  # what could not be traced (the mapping's check fails on these)


def sqs_feeds(plan: Plan) -> list[Feed]:
    """Every event source mapping of the plan that reads (or may read) an SQS queue."""
    if "sqs_feeds" in plan.cache:
        return list(plan.cache["sqs_feeds"])
    feeds = []
    for mapping in plan.of_type("aws_lambda_event_source_mapping"):
        if mapping.known("starting_position"):
            continue  # streams (DynamoDB, Kinesis, Kafka) have a starting position; SQS has none
        known, source = mapping.get("event_source_arn")
        problems = []
        if known:
            if not isinstance(source, str) or ":sqs:" not in source:
                continue
            queues = plan.by_identity("aws_sqs_queue", source)
            if not queues:
                continue  # a queue outside this configuration: nothing to compare with
        else:
            resolution = plan.refs(mapping, "event_source_arn")
            queues = [
                plan.instances[t]
                for t in resolution.targets
                if plan.instances[t].type == "aws_sqs_queue"
            ]
            if not queues and resolution.targets:
                continue  # refers to a stream/table/cluster, not a queue
            if not queues:
                _, why = plan.targets(mapping, "aws_sqs_queue", "event_source_arn")
                problems.append(f"cannot tell which queue it reads: {why}")
            elif len(queues) > 1:
                problems.append(
                    f"event_source_arn may be any of {len(queues)} queues "
                    f"({', '.join(q.address for q in queues[:3])}, ...): cannot tell which"
                )
        functions, why = plan.targets(mapping, "aws_lambda_function", "function_name")
        if not functions and not mapping.get("function_name")[0]:
            problems.append(f"cannot tell which function it invokes: {why}")
        feeds.append(Feed(mapping, queues, functions, problems))
    plan.cache["sqs_feeds"] = feeds
    return list(feeds)


def feeds_of(plan: Plan, queue: Instance) -> list[Feed]:
    """The traceable mappings that read ``queue``."""
    return [
        f
        for f in sqs_feeds(plan)
        if len(f.queues) == 1 and f.queues[0].address == queue.address and not f.problems
    ]
