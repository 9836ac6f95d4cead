"""A Lambda execution environment's runtime: initializes the function once, then serves
invocations one at a time, like the Lambda Python runtime.

    python -s lambda_bootstrap.py CODE_DIR LAYER_DIRS

(LAYER_DIRS joined with os.pathsep.) ``_HANDLER`` (``module.function``) names the handler; the
function's environment is this process's environment.

Protocol (``lambda_environments.py`` is the other side): requests are JSON lines on stdin,
``{"id": request id, "event": ..., "timeout_s": seconds}``; the handler's stdout and stderr,
like this runtime's own frames, go to stdout. A frame is a line starting with :data:`FRAME`
(after a newline, so it always starts a line), then JSON: first ``{"init": "ok"}`` or
``{"init": "error", "payload": error}`` once the handler module is imported, then one
``{"ok": bool, "payload": result or error}`` per request. The process ends at the end of stdin,
or when its parent (the emulator) is gone.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

FRAME = b"\x1e\x1eagentocore-runtime\x1e"
PARENT_POLL_S = 0.5


class Context:
    """The parts of LambdaContext that handlers and Powertools use, for one invocation."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME") or request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(exc: BaseException) -> dict[str, Any]:
    """Lambda's shape of an unhandled function error."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def send(frame: dict[str, Any]) -> None:
    """Write one frame to stdout after whatever the handler printed."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        body = json.dumps(frame, default=str).encode()
    except (TypeError, ValueError) as exc:  # e.g. a circular result
        body = json.dumps({"ok": False, "payload": error_payload(exc)}).encode()
    data = b"\n" + FRAME + body + b"\n"
    while data:
        data = data[os.write(1, data) :]


def watch_parent() -> None:
    """End this environment (and what its handler started) once the emulator is gone."""
    parent = os.getppid()
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)


def initialize(code_dir: str, layer_dirs: str) -> Callable[[Any, Context], Any]:
    """The function's init phase: the path, the AWS call log, the handler module's import."""
    sys.path[:0] = [code_dir, *[p for p in layer_dirs.split(os.pathsep) if p]]
    if os.environ.get("AGENTOCORE_AWS_CALL_LOG"):  # every AWS call, for the IAM check
        import aws_call_log

        aws_call_log.install(os.environ["AGENTOCORE_AWS_CALL_LOG"])
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    handler: Callable[[Any, Context], Any] = getattr(
        importlib.import_module(module_name), function_name
    )
    return handler


def serve(requests: BinaryIO, handler: Callable[[Any, Context], Any]) -> None:
    """One invocation per request line, until the end of stdin."""
    for line in requests:
        request = json.loads(line)
        os.environ["AGENTOCORE_REQUEST_ID"] = request["id"]
        context = Context(request["id"], time.monotonic() + float(request["timeout_s"]))
        try:
            frame = {"ok": True, "payload": handler(request["event"], context)}
        except Exception as exc:  # reported like Lambda's "Unhandled" function error
            traceback.print_exc()
            frame = {"ok": False, "payload": error_payload(exc)}
        send(frame)


def main() -> int:
    code_dir, layer_dirs = sys.argv[1:3]
    # Requests arrive on a private copy of stdin; the handler's stdin is empty.
    requests = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    threading.Thread(target=watch_parent, daemon=True, name="watch-parent").start()
    try:
        handler = initialize(code_dir, layer_dirs)
    except Exception as exc:
        traceback.print_exc()
        send({"init": "error", "payload": error_payload(exc)})
        return 0
    send({"init": "ok"})
    serve(requests, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
