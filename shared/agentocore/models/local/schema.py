"""The JSON Schema that constrains each local-model step: a final answer or one tool call.

The decoder (llama.cpp's JSON-Schema grammar) only lets the model write JSON that matches
:func:`step_schema`, so a tool call always names a real tool and carries an input object of that
tool's shape. Tool schemas are normalised for decoding: local ``$ref`` inlined, objects closed
(``additionalProperties: false`` — without it a small model pads inputs with invented fields),
and documentation keywords dropped. The tool registry still validates every input afterwards.
"""

from __future__ import annotations

import copy
from typing import Any

#: Keywords that document a schema but do not constrain it.
_DOC_KEYWORDS = {"title", "description", "examples", "default", "$comment", "deprecated"}
#: A length bound above this is left to the tool's own validation: long bounded repetitions
#: make the grammar large and slow to build.
MAX_DECODED_LENGTH = 200
_MAX_DEPTH = 8


class SchemaError(ValueError):
    """A tool's input schema cannot be turned into a decoding constraint."""


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise SchemaError(f"only local $ref are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            raise SchemaError(f"unresolvable $ref {ref!r}")
        node = node[part]
    if not isinstance(node, dict):
        raise SchemaError(f"$ref {ref!r} does not point at a schema")
    return node


def _normalise(node: Any, root: dict[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise SchemaError("schema nests too deeply (recursive $ref?)")
    if isinstance(node, list):
        return [_normalise(item, root, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        merged = {**_resolve(node["$ref"], root), **{k: v for k, v in node.items() if k != "$ref"}}
        return _normalise(merged, root, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DOC_KEYWORDS or key == "$defs" or key == "definitions":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _normalise(sub, root, depth + 1) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties") and isinstance(
            value, dict | list
        ):
            out[key] = _normalise(value, root, depth + 1)
        elif key in ("maxLength", "maxItems") and isinstance(value, int):
            if value <= MAX_DECODED_LENGTH:
                out[key] = value
        else:
            out[key] = copy.deepcopy(value)
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("type", "object")
        out.setdefault("properties", {})
        if not isinstance(out.get("additionalProperties"), dict):
            out["additionalProperties"] = False
    if isinstance(out.get("pattern"), str):
        out["pattern"] = out["pattern"].replace("\\d", "[0-9]")
    return out


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema, normalised for constrained decoding."""
    normalised = _normalise(schema, schema, 0)
    if not isinstance(normalised, dict):
        raise SchemaError("a tool input schema must be an object schema")
    normalised.setdefault("type", "object")
    normalised.setdefault("properties", {})
    normalised.setdefault("additionalProperties", False)
    return normalised


def tool_specs(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``toolSpec`` entries of a Converse request the model may call (honours toolChoice)."""
    config = request.get("toolConfig") or {}
    specs = [t["toolSpec"] for t in config.get("tools", []) if "toolSpec" in t]
    chosen = (config.get("toolChoice") or {}).get("tool")
    if chosen:
        specs = [s for s in specs if s["name"] == chosen.get("name")]
    return specs


def answer_allowed(request: dict[str, Any]) -> bool:
    """False when toolChoice demands a tool call (``any`` or a named tool)."""
    choice = (request.get("toolConfig") or {}).get("toolChoice") or {}
    return not ({"any", "tool"} & set(choice)) or not tool_specs(request)


ANSWER_NAMES = ("answer", "final_answer", "reply_to_user")


def answer_name(specs: list[dict[str, Any]]) -> str:
    """The pseudo-tool that carries the final answer (a name no real tool has)."""
    taken = {spec["name"] for spec in specs}
    return next(n for n in ANSWER_NAMES if n not in taken)


#: Answers are kept to a few sentences: a small model that may go on, goes off the rails.
MAX_ANSWER_CHARS = 300
ANSWER_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": MAX_ANSWER_CHARS}},
    "required": ["text"],
    "additionalProperties": False,
}


def _call(name: str, input_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"tool": {"const": name}, "input": input_schema},
        "required": ["tool", "input"],
        "additionalProperties": False,
    }


def call_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """``{"tool": <name>, "input": {...}}`` for one tool."""
    return _call(spec["name"], input_schema((spec.get("inputSchema") or {}).get("json") or {}))


def step_schema(request: dict[str, Any]) -> dict[str, Any]:
    """The union the next step must match: one call per allowed tool and/or the answer.

    Every step has the same shape, ``{"tool": ..., "input": {...}}``; the answer is the
    pseudo-tool :func:`answer_name` with ``{"text": ...}``. The choice between answering and
    each tool is then one decision at the tool name, which a small model makes far better
    than choosing between differently shaped objects (measured: benchmarks/local_llm_accuracy).
    """
    specs = tool_specs(request)
    options = [call_schema(spec) for spec in specs]
    if answer_allowed(request):
        options.append(_call(answer_name(specs), ANSWER_INPUT))
    return options[0] if len(options) == 1 else {"anyOf": options}
