"""The local model server of the local stack: llama.cpp (xllamacpp) on 127.0.0.1:4567.

    python localstack/llm_server.py start|stop|status|serve

The model is ``AGENTOCORE_MODEL`` (``local`` or ``local:<model>``; default ``local``). Functions
deployed with a ``local`` model get ``AGENTOCORE_LOCAL_LLM_URL`` pointing here (see
``lambda_executor.py``): every Lambda invocation is a fresh process, so the model is loaded once
here instead of once per invocation, and llama.cpp reuses the KV cache of the shared prompt
prefix (system prompt, tools, examples) across invocations. Install with ``make local-llm``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon import Daemon, answers, command_line

HOST = "127.0.0.1"  # loopback only, like the emulator
PORT = int(os.environ.get("AGENTOCORE_LOCAL_LLM_PORT", "4567"))
URL = f"http://{HOST}:{PORT}"


def healthy(timeout: float = 1.0) -> bool:
    return answers(f"{URL}/health", timeout)


DAEMON = Daemon("llm-server", URL, healthy)


def model_name() -> str:
    spec = os.environ.get("AGENTOCORE_MODEL") or "local"
    provider, _, name = spec.partition(":")
    if provider != "local":
        raise SystemExit(f"AGENTOCORE_MODEL={spec!r} is not a local model")
    from agentocore.models.local.models import DEFAULT_MODEL

    return name or DEFAULT_MODEL


def serve() -> None:
    from agentocore.models.local import models
    from agentocore.models.local.backends import load_server

    name = model_name()
    path = models.installed_path(name)
    server = load_server(path, context_tokens=models.context_tokens(name), host=HOST, port=PORT)
    print(f"serving {name} ({path}) at {URL}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    del server


def start() -> None:
    model_name()  # fail fast on a non-local model
    DAEMON.start([sys.executable, str(Path(__file__).resolve()), "serve"], wait_s=120)


def main() -> None:
    command_line(DAEMON, start=start, serve=serve, argv=sys.argv)


if __name__ == "__main__":
    main()
