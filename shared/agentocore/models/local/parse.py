"""Turn one constrained step (JSON text) into Converse content and a stop reason."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from agentocore.types import ContentBlock

_ANSWER_PREFIX = re.compile(
    r'^\s*\{\s*"tool"\s*:\s*"(?P<name>[^"]+)"\s*,\s*"input"\s*:\s*\{\s*"text"\s*:\s*"'
)


def tool_use_id(prefix: str, position: int, name: str, tool_input: Any) -> str:
    """A toolUseId that is the same for the same call at the same conversation position (so
    replays are idempotent) and differs between positions (so action ids never collide)."""
    seed = f"{position}:{name}:{json.dumps(tool_input, sort_keys=True, default=str)}"
    return f"{prefix}_{hashlib.sha1(seed.encode()).hexdigest()[:20]}"


_SENTENCE = re.compile(r"[^.!?]+[.!?]+(?:\s+|$)")


def tidy_answer(text: str) -> str:
    """A small model's answer without repeated sentences and without a sentence cut off by the
    length limit (when at least one sentence is complete)."""
    sentences = [m.group(0).strip() for m in _SENTENCE.finditer(text)]
    if not sentences:
        return text.strip()
    kept: list[str] = []
    for sentence in sentences:
        if sentence not in kept:
            kept.append(sentence)
    return " ".join(kept)


def load_step(text: str) -> Any:
    """The step's JSON. Generation stops at the first newline (steps are one line), and the
    grammar allows whitespace before closing braces, so up to two missing ``}`` are restored."""
    for suffix in ("", "}", "}}"):
        try:
            return json.loads(text + suffix)
        except json.JSONDecodeError:
            continue
    return None


def salvage_answer(text: str, answer: str) -> str | None:
    """The text of an answer cut off by the token limit (``{"tool": "answer", "input":
    {"text": "Order A-10``), or None if ``text`` is not an answer."""
    match = _ANSWER_PREFIX.match(text)
    if not match or match["name"] != answer:
        return None
    body = text[match.end() :]
    for end in range(len(body), 0, -1):
        try:
            return str(json.loads('"' + body[:end] + '"'))
        except json.JSONDecodeError:
            continue
    return ""


def parse_step(
    text: str, *, answer: str, truncated: bool, position: int, prefix: str = "local"
) -> tuple[list[ContentBlock], str]:
    """``(content, stopReason)`` for the model's step ``text``.

    The answer pseudo-tool -> a text block, ``end_turn``; any other ``{"tool", "input"}`` -> a
    toolUse block, ``tool_use``; a step cut off by the token limit -> the answer text it holds,
    ``max_tokens`` (a cut-off tool call is dropped: half an input is never executed); anything
    else -> ``malformed_model_output`` (the loop reports it back to the model once).
    """
    step = load_step(text)
    if (
        isinstance(step, dict)
        and isinstance(step.get("tool"), str)
        and isinstance(step.get("input"), dict)
    ):
        name, tool_input = step["tool"], step["input"]
        if name == answer and isinstance(tool_input.get("text"), str):
            return [{"text": tidy_answer(tool_input["text"])}], "end_turn"
        if name != answer:
            use = {"toolUseId": tool_use_id(prefix, position, name, tool_input), "name": name}
            return [{"toolUse": {**use, "input": tool_input}}], "tool_use"
    if truncated:
        salvaged = salvage_answer(text, answer)
        return ([{"text": salvaged}] if salvaged else []), "max_tokens"
    return [{"text": text}], "malformed_model_output"
