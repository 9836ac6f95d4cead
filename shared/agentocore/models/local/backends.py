"""Completion backends: llama.cpp in this process (xllamacpp) or a llama.cpp HTTP server.

Both take the body of llama.cpp's OpenAI-compatible ``POST /v1/completions`` (``prompt``,
``json_schema``, ``n_predict``, ``temperature``, ``cache_prompt``) and return its response
(``choices[0].text``/``finish_reason``, ``usage``, ``timings``). The HTTP backend talks to any
llama.cpp server: the one ``localstack/llm_server.py`` runs for the local stack, or
``llama-server`` itself.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from agentocore.models.base import ContextWindowExceeded, ModelError, RetryableModelError


class CompletionBackend(Protocol):
    """Runs one completion request."""

    def complete(self, body: dict[str, Any]) -> dict[str, Any]: ...


def check(result: dict[str, Any]) -> dict[str, Any]:
    """Raise the provider error for a llama.cpp error response; return the result otherwise."""
    error = result.get("error")
    if not error:
        return result
    message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
    kind = error.get("type", "") if isinstance(error, dict) else ""
    code = error.get("code") if isinstance(error, dict) else None
    if kind == "exceed_context_size_error" or "context size" in message:
        raise ContextWindowExceeded(message)
    if kind == "unavailable_error" or code == 503:
        raise RetryableModelError(message, code="ServiceUnavailableException")
    raise ModelError(f"local model error: {message}")


class LlamaServerHttp:
    """A llama.cpp server at ``base_url`` (e.g. ``http://127.0.0.1:4567``)."""

    def __init__(self, base_url: str, *, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/v1/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                result: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                result = json.load(exc)
            except ValueError:
                result = {"error": {"code": exc.code, "message": f"HTTP {exc.code}"}}
            result.setdefault("error", {"code": exc.code, "message": f"HTTP {exc.code}"})
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RetryableModelError(
                f"local model server {self.base_url} unreachable: {reason}",
                code="ServiceUnavailableException",
            ) from exc
        return check(result)


class InProcessLlama:
    """llama.cpp (xllamacpp) loaded into this process, once per model file and settings."""

    _servers: dict[tuple[str, int, int], Any] = {}
    _lock = threading.Lock()

    def __init__(self, path: Path, *, context_tokens: int, threads: int = 0) -> None:
        self.path = path
        self.context_tokens = context_tokens
        self.threads = threads

    def server(self) -> Any:
        key = (str(self.path), self.context_tokens, self.threads)
        with self._lock:
            server = self._servers.get(key)
            if server is None:
                server = self._servers[key] = load_server(
                    self.path, context_tokens=self.context_tokens, threads=self.threads
                )
        return server

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        return check(self.server().handle_completions(body))


def load_server(
    path: Path, *, context_tokens: int, threads: int = 0, host: str = "127.0.0.1", port: int = 0
) -> Any:
    """An xllamacpp server for ``path`` (its HTTP listener binds ``host``:``port``; 0 = any)."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise ModelError("xllamacpp is not installed; run `make local-llm`") from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = context_tokens
    params.n_parallel = 1
    params.cpuparams.n_threads = threads or max(1, os.cpu_count() or 1)
    params.cpuparams_batch.n_threads = params.cpuparams.n_threads
    params.hostnames = [host]
    params.port = port
    params.warmup = False
    return xllamacpp.Server(params)
