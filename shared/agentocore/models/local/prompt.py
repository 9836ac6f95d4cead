"""Plain-text prompts for a base (non-chat) model: tools, the step format, examples, transcript.

A base model has no chat template, so the conversation is written as a transcript that the
model continues with one step::

    <system prompt>

    Tools:
    - get_weather: Current weather for a city.
      input: {"location": string (City name), "units": "celsius" | "fahrenheit" (optional)}
    - answer: Reply to the user; ends the turn.
      input: {"text": string}

    <how steps work>

    Example (a different tool set):
    User: What is 12 EUR in USD?
    Step: {"tool": "convert_currency", "input": {"amount": 12, "from": "EUR", "to": "USD"}}
    Result: {"amount": 13.08, "currency": "USD"}
    Step: {"tool": "answer", "input": {"text": "12 EUR is 13.08 USD."}}

    Examples:
    User: Is it sunny in Rome?
    Step: {"tool": "get_weather", "input": {"location": "Rome"}}
    User: Good morning
    Step: {"tool": "answer", "input": {"text": "Good morning! How can I help?"}}

    User: Is it raining in Oslo?
    Step:

The examples per tool come from the tool's description (see :mod:`agentocore.tools.examples`),
in rounds with the tool order rotated, and two direct answers. Without them a 270M base model
picked the right tool for 8 of 30 labelled requests; with them, 26 of 30
(benchmarks/local_llm_accuracy.py).
"""

from __future__ import annotations

import json
from typing import Any

from agentocore.models.local.schema import answer_name
from agentocore.tools.examples import split_examples
from agentocore.types import ContentBlock, ConverseRequest, Message

STEP = "Step:"
MAX_RESULT_CHARS = 1500
#: Direct answers shown next to the tool examples, so "no tool" stays a visible choice.
ANSWER_EXAMPLES = (
    ("Good morning", "Good morning! How can I help?"),
    ("What is the capital of France?", "Paris is the capital of France."),
)


def compact(value: Any) -> str:
    """JSON on one line, the form the model is taught to write."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def step(tool: str, tool_input: Any) -> str:
    return f"{STEP} {compact({'tool': tool, 'input': tool_input})}"


def _type_text(schema: dict[str, Any]) -> str:
    if "const" in schema:
        return compact(schema["const"])
    if "enum" in schema:
        return " | ".join(compact(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_text(s) for s in schema["anyOf"] if isinstance(s, dict))
    kind = schema.get("type", "any")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"[{_type_text(schema['items'])}, ...]"
    return str(kind)


def describe_input(schema: dict[str, Any]) -> str:
    """A tool's input on one line: fields, types, descriptions, optional ones marked."""
    required = set(schema.get("required", []))
    parts = []
    for name, prop in (schema.get("properties") or {}).items():
        text = f'"{name}": {_type_text(prop)}'
        notes = [str(prop["description"])] if prop.get("description") else []
        if name not in required:
            default = f", default {compact(prop['default'])}" if "default" in prop else ""
            notes.append(f"optional{default}")
        if notes:
            text += f" ({'; '.join(notes)})"
        parts.append(text)
    return "{" + ", ".join(parts) + "}"


def describe_tools(specs: list[dict[str, Any]], answer: str) -> str:
    lines = ["Tools:"]
    for spec in specs:
        description, _ = split_examples(str(spec.get("description", "")))
        lines.append(f"- {spec['name']}: {description}")
        lines.append(
            f"  input: {describe_input((spec.get('inputSchema') or {}).get('json') or {})}"
        )
    lines.append(f"- {answer}: Reply to the user; ends the turn.")
    lines.append('  input: {"text": string}')
    return "\n".join(lines)


def rules(answer: str) -> str:
    return (
        'Work in steps. Each step is one JSON object on one line: {"tool": <name>, "input": '
        '{...}}. A tool\'s result follows as "Result:". The tool "' + answer + '" replies to the '
        'user and ends the turn: {"tool": "' + answer + '", "input": {"text": <reply>}}. Call the '
        "tool that provides what the user asks for; answer from the results; use "
        f'"{answer}" directly only when no tool fits.'
    )


def demo(answer: str) -> str:
    """A whole turn with a tool the agent does not have (the grammar cannot call it)."""
    return "\n".join(
        [
            "Example (a different tool set):",
            "User: What is 12 EUR in USD?",
            step("convert_currency", {"amount": 12, "from": "EUR", "to": "USD"}),
            "Result: " + compact({"amount": 13.08, "currency": "USD"}),
            step(answer, {"text": "12 EUR is 13.08 USD."}),
            "User: Hi there",
            step(answer, {"text": "Hello! How can I help you today?"}),
        ]
    )


def examples(specs: list[dict[str, Any]], answer: str) -> str:
    """Tool examples in rounds (one per tool, the tool order rotated each round so no tool is
    always nearest the conversation), a direct answer after each round."""
    per_tool = [
        [(request, spec["name"], tool_input) for request, tool_input in found]
        for spec in specs
        if (found := split_examples(str(spec.get("description", "")))[1])
    ]
    if not per_tool:
        return ""
    lines = ["Examples:"]
    for i in range(max(len(found) for found in per_tool)):
        rotated = per_tool[i % len(per_tool) :] + per_tool[: i % len(per_tool)]
        for request, name, tool_input in (found[i] for found in rotated if i < len(found)):
            lines += [f"User: {request}", step(name, tool_input)]
        if i < len(ANSWER_EXAMPLES):
            request, reply = ANSWER_EXAMPLES[i]
            lines += [f"User: {request}", step(answer, {"text": reply})]
    return "\n".join(lines)


def _result_text(block: ContentBlock) -> str:
    result = block["toolResult"]
    parts = []
    for item in result.get("content", []):
        if "json" in item:
            parts.append(compact(item["json"]))
        elif "text" in item:
            parts.append(" ".join(str(item["text"]).split()))
        else:
            parts.append(f"[{next(iter(item), 'content')}]")
    text = " ".join(parts)[:MAX_RESULT_CHARS]
    return f"Error: {text.removeprefix('Error: ')}" if result.get("status") == "error" else text


def render_message(message: Message, answer: str) -> list[str]:
    """Transcript lines for one Converse message."""
    lines = []
    role = message.get("role")
    content: list[ContentBlock] = message.get("content", [])
    has_calls = any("toolUse" in b for b in content)
    for block in content:
        if "text" in block:
            text = " ".join(str(block["text"]).split())
            if role == "user":
                lines.append(f"User: {text}")
            elif not has_calls:  # text next to a tool call is the model's reasoning: dropped
                lines.append(step(answer, {"text": text}))
        elif "toolUse" in block:
            use = block["toolUse"]
            lines.append(step(use["name"], use.get("input", {})))
        elif "toolResult" in block:
            lines.append(f"Result: {_result_text(block)}")
        elif role == "user" and ("image" in block or "document" in block):
            lines.append(f"User: [{next(iter(block))} attached]")
    return lines


def current_turn(messages: list[Message]) -> list[Message]:
    """The messages from the last user request on. Earlier turns are left out: a 270M model
    copies its earlier answers instead of calling a tool (seen in the demo's second turn);
    follow-ups that need earlier context are beyond it either way."""
    for i in range(len(messages) - 1, -1, -1):
        content = messages[i].get("content", [])
        if messages[i].get("role") == "user" and not any("toolResult" in b for b in content):
            return messages[i:]
    return messages


def render(request: ConverseRequest, specs: list[dict[str, Any]]) -> str:
    """The whole prompt for the next step of ``request`` (``specs``: the callable tools)."""
    answer = answer_name(specs)
    system = "\n".join(str(b["text"]).strip() for b in request.get("system", []) if b.get("text"))
    sections = [system, describe_tools(specs, answer), rules(answer)]
    if specs:
        sections += [demo(answer), examples(specs, answer)]
    messages = request.get("messages", [])
    turn = current_turn(messages) if specs else messages  # a summary request needs them all
    transcript = [line for m in turn for line in render_message(m, answer)]
    sections.append("\n".join([*transcript, STEP]))
    return "\n\n".join(s for s in sections if s)
