"""Turn content <-> the JSON string stored in DynamoDB, and fitting it under the size limits.

Sizes are what DynamoDB counts: the UTF-8 bytes of the serialized (escaped) JSON. :func:`fit`
measures and cuts in those units (a quote costs 2 bytes, a control character 6), so its result
is under the limit for any content, in a bounded number of steps.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from agentocore.types import ContentBlock

#: DynamoDB's item limit is 400 KB; leave room for keys and the other attributes.
MAX_ITEM_CONTENT_BYTES = 380_000
#: A TransactWriteItems request carries at most 4 MB.
MAX_TRANSACTION_BYTES = 3_800_000
#: The least ``max_bytes`` :func:`fit` accepts: room for one marker block.
MIN_FIT_BYTES = 256
_BYTES_KEY = "$bytes"
_DICT_KEY = "$dict"  # a user dict that would read as an encoded value: {"$dict": [[k, v], ...]}
_SPECIAL = ({_BYTES_KEY}, {_DICT_KEY})
_MARKER = "\n[... truncated by AgentoCore: kept {kept} of {total} bytes]"


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BYTES_KEY: base64.b64encode(value).decode("ascii")}
    if hasattr(value, "__float__"):
        return float(value)  # Decimal from DynamoDB reads
    return str(value)


def _escape(value: Any) -> Any:
    """``value`` with bytes encoded and user dicts shaped like an encoded value wrapped."""
    if isinstance(value, dict):
        if set(value) in _SPECIAL:
            return {_DICT_KEY: [[k, _escape(v)] for k, v in value.items()]}
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return _default(value)
    return value


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) != 1:
        return obj
    if isinstance(obj.get(_BYTES_KEY), str):
        try:
            return base64.b64decode(obj[_BYTES_KEY], validate=True)
        except (binascii.Error, ValueError):
            return obj  # not ours (stored before user dicts were wrapped)
    pairs = obj.get(_DICT_KEY)
    if isinstance(pairs, list) and all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
    ):
        return {k: v for k, v in pairs}
    return obj


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default)


def dumps(content: list[ContentBlock]) -> str:
    """Serialize Converse content (bytes of image/document blocks become base64)."""
    raw = _json(content)
    if f'"{_BYTES_KEY}"' in raw or f'"{_DICT_KEY}"' in raw:  # a dict that may read back wrong
        raw = _json(_escape(content))
    return raw


def loads(raw: str) -> list[ContentBlock]:
    """Inverse of :func:`dumps`."""
    value: list[ContentBlock] = json.loads(raw, object_hook=_hook)
    return value


def size(content: Sequence[ContentBlock]) -> int:
    """Stored bytes of ``content`` (UTF-8 of :func:`dumps`)."""
    return len(dumps(list(content)).encode("utf-8"))


def _block_size(block: Any) -> int:
    return size([block]) - 2


def _total(sizes: Sequence[int]) -> int:
    return sum(sizes) + max(len(sizes) - 1, 0) + 2  # commas and brackets


# ---- text cut in escaped bytes -------------------------------------------------------------


def _escaped(text: str) -> bytes:
    """The bytes ``text`` takes inside a JSON string (without the quotes)."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8")


def _prefix(escaped: bytes, limit: int) -> str:
    """The text of the longest escape-aligned prefix of ``escaped`` within ``limit`` bytes."""
    head = escaped[:limit].decode("utf-8", errors="ignore")  # drops a split UTF-8 sequence
    for _ in range(6):  # an escape is at most 6 characters (\\uXXXX): back off a split one
        try:
            text: str = json.loads(f'"{head}"')
            return text
        except json.JSONDecodeError:
            head = head[:-1]
    return ""


def _marker(kept: int, total: int) -> str:
    return _MARKER.format(kept=kept, total=total)


def _cut(text: str, budget: int) -> str:
    """``text`` whose escaped size is at most ``budget``, or a prefix of it plus a visible
    marker (bytes kept of the original's UTF-8 bytes); only the marker when nothing fits."""
    escaped = _escaped(text)
    if len(escaped) <= budget:
        return text
    total = len(text.encode("utf-8"))
    room = budget - len(_escaped(_marker(total, total)))
    kept = _prefix(escaped, room) if room > 0 else ""
    return kept + _marker(len(kept.encode("utf-8")), total)


# ---- one block's shrunk form ---------------------------------------------------------------


def _item_text(c: Any) -> str:
    if isinstance(c, dict) and "text" in c:
        return str(c["text"])
    if isinstance(c, dict) and "json" in c:
        return _json(c["json"])
    return _describe(c)


def _describe(block: Any) -> str:
    """A short stand-in for a block the model cannot use as text (image, document, ...)."""
    kind = next(iter(block), "block") if isinstance(block, dict) and block else "block"
    return f"[... truncated by AgentoCore: {kind} block of {size([block])} bytes not stored]"


def _parts(block: Any) -> tuple[str, Callable[[str], ContentBlock]]:
    """The text a shrunk ``block`` keeps and how to rebuild it around that text, keeping its
    kind and any toolUse/toolResult id."""
    tu = block.get("toolUse") if isinstance(block, dict) else None
    tr = block.get("toolResult") if isinstance(block, dict) else None
    if isinstance(block, dict) and "text" in block:
        return str(block["text"]), lambda t: {"text": t}
    if isinstance(tu, dict):
        return _json(tu.get("input", {})), lambda t: {
            "toolUse": {**tu, "input": {"truncated_input": t}}
        }
    if isinstance(tr, dict):
        content = tr.get("content")
        items = content if isinstance(content, list) else [] if content is None else [content]
        text = " ".join(_item_text(c) for c in items)
        return text, lambda t: {"toolResult": {**tr, "content": [{"text": t}]}}
    return _describe(block), lambda t: {"text": t}


class _Shrinkable:
    """A block with its size and the smallest size shrinking can reach (``floor``)."""

    def __init__(self, block: Any) -> None:
        self.block = block
        self.size = _block_size(block)
        self.text, self.build = _parts(block)
        self.shell = _block_size(self.build(""))
        total = len(self.text.encode("utf-8"))
        self.floor = min(self.size, self.shell + len(_escaped(_marker(total, total))))

    def size_at(self, cap: int) -> int:
        """The block's size when everything above ``cap`` is shrunk (an upper bound)."""
        if self.size <= cap or self.floor >= self.size:
            return self.size
        return max(cap, self.floor)

    def shrink(self, cap: int) -> Any:
        if self.size <= cap or self.floor >= self.size:
            return self.block
        return self.build(_cut(self.text, cap - self.shell))


def _storable(blocks: list[Any]) -> tuple[list[Any], int]:
    """``blocks`` with lone surrogates (not encodable as UTF-8) replaced by U+FFFD, and their
    stored size."""
    try:
        return blocks, size(blocks)
    except UnicodeEncodeError:
        fixed: list[Any] = _clean(blocks)
        return fixed, size(fixed)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _cap(sizes_at: Callable[[int], int], hi: int, limit: int) -> int:
    """The largest cap in ``0..hi`` with ``sizes_at(cap) <= limit`` (non-decreasing)."""
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sizes_at(mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def fit(
    content: Sequence[ContentBlock], max_bytes: int = MAX_ITEM_CONTENT_BYTES
) -> list[ContentBlock]:
    """Content whose stored size (:func:`size`) is at most ``max_bytes``, for any content.

    Content that fits comes back unchanged. Otherwise the largest blocks are cut to one common
    cap (binary search over the cap, then one cut per block, each exact in escaped bytes) with a
    visible marker; blocks keep their kind and toolUse/toolResult ids, so pairs survive. When
    even the smallest forms of all blocks do not fit (thousands of blocks), the other blocks
    give way to one marker, and as a last resort everything does (window repair then drops the
    unpaired partners)."""
    if max_bytes < MIN_FIT_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_FIT_BYTES}, got {max_bytes}")
    blocks, stored = _storable(list(content))
    if stored <= max_bytes:
        return blocks
    parts = [_Shrinkable(b) for b in blocks]

    def total_at(cap: int) -> int:
        return _total([p.size_at(cap) for p in parts])

    if total_at(0) <= max_bytes:
        cap = _cap(total_at, max(p.size for p in parts), max_bytes)
        fitted = [p.shrink(cap) for p in parts]
        if size(fitted) <= max_bytes:  # always, by construction; checked all the same
            return fitted
    return _collapse(parts, max_bytes)


def _is_tool(block: Any) -> bool:
    return isinstance(block, dict) and ("toolUse" in block or "toolResult" in block)


def _collapse(parts: list[_Shrinkable], max_bytes: int) -> list[Any]:
    """Too many blocks for their smallest forms: keep the tool blocks (smallest form, ids
    kept) and one marker where the first other block was; as a last resort only a marker."""
    others = [p for p in parts if not _is_tool(p.block)]
    note = _note(len(others), sum(p.size for p in others))
    kept: list[Any] = []
    for p in parts:
        if _is_tool(p.block):
            kept.append(p.shrink(0))
        elif p is others[0]:
            kept.append(note)
    if size(kept) <= max_bytes:
        return kept
    return [_note(len(parts), sum(p.size for p in parts))]


def _note(blocks: int, size_bytes: int) -> ContentBlock:
    return {
        "text": f"[... truncated by AgentoCore: {blocks} blocks ({size_bytes} bytes) did not fit]"
    }


def fit_all(
    contents: Sequence[Sequence[ContentBlock]],
    max_item: int = MAX_ITEM_CONTENT_BYTES,
    max_total: int = MAX_TRANSACTION_BYTES,
) -> list[list[ContentBlock]]:
    """Each content fitted under ``max_item`` and all of them together under ``max_total``
    (one transaction): the largest are cut to one common cap. Contents that fit come back
    unchanged."""
    if len(contents) * MIN_FIT_BYTES > max_total:
        raise ValueError(f"{len(contents)} contents cannot fit {max_total} bytes")
    fitted = [fit(c, max_item) for c in contents]
    sizes = [size(c) for c in fitted]
    if sum(sizes) <= max_total:
        return fitted
    cap = _cap(lambda c: sum(min(s, c) for s in sizes), max(sizes), max_total)
    cap = max(cap, MIN_FIT_BYTES)  # sum(min(s, MIN)) <= max_total, checked above
    return [fit(c, cap) if s > cap else c for c, s in zip(fitted, sizes, strict=True)]
