"""Runs one Lambda invocation in this (sub)process, like the Lambda Python runtime would.

    python lambda_bootstrap.py CODE_DIR LAYER_DIRS EVENT_FILE RESULT_FILE

(LAYER_DIRS joined with os.pathsep.)

``_HANDLER`` (``module.function``) names the handler; the result (or the error) is written as
JSON to the result file; the process exits 0 in both cases, non-zero only if it crashed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    """The parts of LambdaContext that handlers and Powertools use."""

    def __init__(self, deadline: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = os.environ.get("AGENTOCORE_REQUEST_ID") or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = os.environ.get("AGENTOCORE_LOG_STREAM") or self.aws_request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> int:
    code_dir, layer_dirs, event_file, result_file = sys.argv[1:5]
    sys.path[:0] = [code_dir, *[p for p in layer_dirs.split(os.pathsep) if p]]
    timeout = float(os.environ.get("AGENTOCORE_TIMEOUT_S", "30"))
    context = Context(time.monotonic() + timeout)
    with open(event_file, encoding="utf-8") as f:
        event: Any = json.load(f)
    if os.environ.get("AGENTOCORE_AWS_CALL_LOG"):  # every AWS call, for the IAM check
        import aws_call_log

        aws_call_log.install(os.environ["AGENTOCORE_AWS_CALL_LOG"])
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        result = {"ok": True, "payload": handler(event, context)}
    except Exception as exc:  # reported like Lambda's "Unhandled" function error
        traceback.print_exc()
        result = {
            "ok": False,
            "payload": {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            },
        }
    with open(result_file, "w", encoding="utf-8") as f:
        json.dump(result, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
