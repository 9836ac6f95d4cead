"""Type aliases for the Bedrock Converse request/response shapes used across the core."""

from __future__ import annotations

from typing import Any

#: One Converse message: ``{"role": "user" | "assistant", "content": [ContentBlock, ...]}``.
Message = dict[str, Any]
#: One content block: ``{"text": ...}``, ``{"toolUse": {...}}``, ``{"toolResult": {...}}``, ...
ContentBlock = dict[str, Any]
#: A Converse request (keyword arguments of ``bedrock-runtime.converse``).
ConverseRequest = dict[str, Any]
#: A Converse response (``output``, ``stopReason``, ``usage``, ``metrics``).
ConverseResponse = dict[str, Any]
#: A JSON-compatible value.
JSON = Any
