"""Example requests in a tool's description: written for every model, read back by small ones.

``ToolRegistry.tool(examples=[("Where is order B-2211?", {"order_id": "B-2211"})])`` appends::

    Example requests:
    - "Where is order B-2211?" -> {"order_id": "B-2211"}

to the tool's description. Large models read it as documentation; the ``local`` provider turns
the lines into few-shot steps, which a small model needs to pick the right tool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

HEADING = "Example requests:"
_LINE = re.compile(r'^\s*-\s*(?P<request>".*")\s*->\s*(?P<input>\{.*\})\s*$')
Example = tuple[str, Mapping[str, Any]]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def append_examples(description: str, examples: Sequence[Example]) -> str:
    """``description`` followed by the examples block (unchanged without examples)."""
    if not examples:
        return description
    lines = [description.rstrip(), HEADING]
    lines += [
        f"- {_json(request)} -> {_json(dict(tool_input))}" for request, tool_input in examples
    ]
    return "\n".join(lines)


def split_examples(description: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """``(description without the examples block, [(request, input), ...])``."""
    head, heading, tail = description.partition(HEADING)
    found: list[tuple[str, dict[str, Any]]] = []
    for line in tail.splitlines() if heading else []:
        match = _LINE.match(line)
        if not match:
            continue
        try:
            request, tool_input = json.loads(match["request"]), json.loads(match["input"])
        except json.JSONDecodeError:
            continue
        if isinstance(request, str) and isinstance(tool_input, dict):
            found.append((request, tool_input))
    return " ".join(head.split()), found
