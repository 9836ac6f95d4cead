"""Turn content <-> the JSON string stored in DynamoDB, and fitting it under the item limit."""

from __future__ import annotations

import base64
import json
from typing import Any

from agentocore.types import ContentBlock

#: DynamoDB's item limit is 400 KB; leave room for keys and the other attributes.
MAX_ITEM_CONTENT_BYTES = 380_000
#: A TransactWriteItems request carries at most 4 MB.
MAX_TRANSACTION_BYTES = 3_800_000
_BYTES_KEY = "$bytes"
_MIN_KEEP = 200


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BYTES_KEY: base64.b64encode(value).decode("ascii")}
    if hasattr(value, "__float__"):
        return float(value)  # Decimal from DynamoDB reads
    return str(value)


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES_KEY in obj:
        return base64.b64decode(obj[_BYTES_KEY])
    return obj


def dumps(content: list[ContentBlock]) -> str:
    """Serialize Converse content (bytes of image/document blocks become base64)."""
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False, default=_default)


def loads(raw: str) -> list[ContentBlock]:
    """Inverse of :func:`dumps`."""
    value: list[ContentBlock] = json.loads(raw, object_hook=_hook)
    return value


def _size(value: Any) -> int:
    return len(dumps([value]).encode("utf-8"))


def _cut(text: str, keep_bytes: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= keep_bytes:
        return text
    kept = raw[: max(keep_bytes, _MIN_KEEP)].decode("utf-8", errors="ignore")
    return f"{kept}\n[... truncated by AgentoCore: kept {len(kept.encode())} of {len(raw)} bytes]"


def _shrink(block: ContentBlock, target: int) -> ContentBlock:
    """A smaller version of ``block`` that keeps its kind and any toolUse/toolResult id."""
    if "text" in block:
        return {"text": _cut(str(block["text"]), target)}
    if "toolUse" in block:
        tu = block["toolUse"]
        preview = _cut(json.dumps(tu.get("input", {}), default=_default), target)
        return {"toolUse": {**tu, "input": {"truncated_input": preview}}}
    if "toolResult" in block:
        tr = block["toolResult"]
        text = " ".join(
            str(c["text"]) if "text" in c else json.dumps(c, default=_default)
            for c in tr.get("content", [])
        )
        shrunk = {**tr, "content": [{"text": _cut(text, target)}]}
        return {"toolResult": shrunk}
    return {"text": _cut(json.dumps(block, default=_default), target)}


def fit(content: list[ContentBlock], max_bytes: int = MAX_ITEM_CONTENT_BYTES) -> list[ContentBlock]:
    """Content whose serialized size is at most ``max_bytes`` (about): the largest blocks are
    truncated with a visible marker, never dropped, so toolUse/toolResult pairs survive."""
    blocks = list(content)
    sizes = [_size(b) for b in blocks]
    for _ in range(4 * len(blocks) + 4):
        total = sum(sizes) + len(blocks) + 2
        if total <= max_bytes:
            return blocks
        i = max(range(len(blocks)), key=sizes.__getitem__)
        target = max(_MIN_KEEP, sizes[i] - (total - max_bytes) - 256)
        blocks[i] = _shrink(blocks[i], target)
        new_size = _size(blocks[i])
        if new_size >= sizes[i]:
            break
        sizes[i] = new_size
    return blocks
