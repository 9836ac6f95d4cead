"""``toolResult`` content blocks, including the error results that let a model correct itself."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from agentocore.types import ContentBlock

_MAX_SHOWN_VALUE = 120


def success(tool_use_id: str, output: Any) -> ContentBlock:
    """A successful ``toolResult``: JSON for structured output, text for strings."""
    if isinstance(output, BaseModel):
        output = output.model_dump(mode="json")
    if isinstance(output, str):
        content: list[ContentBlock] = [{"text": output}]
    elif isinstance(output, dict):
        content = [{"json": output}]
    else:
        content = [{"json": {"result": output}}]
    return {"toolResult": {"toolUseId": tool_use_id, "content": content, "status": "success"}}


def error(tool_use_id: str, message: str) -> ContentBlock:
    """An error ``toolResult``. The text block carries the message because some models ignore
    ``status``."""
    return {
        "toolResult": {
            "toolUseId": tool_use_id,
            "content": [{"text": f"Error: {message}"}],
            "status": "error",
        }
    }


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[:_MAX_SHOWN_VALUE] + "..."


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message (got: value)``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(input)"
        line = f"- {loc}: {err.get('msg', 'invalid')}"
        if err.get("type") != "missing" and "input" in err:
            line += f" (got: {_shown(err['input'])})"
        lines.append(line)
    return "\n".join(lines)


def schema_text(schema: dict[str, Any]) -> str:
    """Compact JSON of a schema, for error messages."""
    return json.dumps(schema, separators=(",", ":"), sort_keys=True)
