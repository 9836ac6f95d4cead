"""The local AWS emulator on 127.0.0.1:4566: moto's server plus AgentoCore's compatibility hooks.

    python localstack/emulator.py start|stop|status|serve

``start`` runs ``serve`` in the background (PID file and log in ``.localstack/``), waits until
the endpoint answers, and is idempotent; ``stop`` ends only the process it started. Real
LocalStack (``localstack/docker-compose.yml``) serves the same endpoint where Docker runs.

The hooks fill gaps of moto's server that the Terraform AWS provider trips over; each is small,
tested (tests/integration/test_emulator.py) and tied to the pinned moto version.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon import Daemon, answers, command_line

HOST = os.environ.get("AGENTOCORE_EMULATOR_HOST", "127.0.0.1")
PORT = int(os.environ.get("AGENTOCORE_EMULATOR_PORT", "4566"))
MOTO_SERIES = "5.2."  # the hooks below are written against this moto series


def endpoint() -> str:
    return f"http://{HOST}:{PORT}"


def patch_sqs() -> None:
    """GetQueueAttributes reports ``RedriveAllowPolicy`` as AWS does (moto stores it but never
    returns it, so the provider waits forever for the policy to "propagate")."""
    from moto.sqs.models import Queue

    if getattr(Queue, "_agentocore_patched", False):
        return
    original = Queue.attributes.fget
    assert original is not None
    Queue.redrive_allow_policy = None  # type: ignore[attr-defined]
    Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]

    def attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original(self)
        policy = result.pop("RedriveAllowPolicy", None)
        if policy:
            result["RedriveAllowPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
        return result

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    Queue._agentocore_patched = True  # type: ignore[attr-defined]


def patch_lambda_config() -> None:
    """Functions keep and report ``DeadLetterConfig`` and ``LoggingConfig`` (moto drops both, so
    every plan after an apply wants to add them again, and async failures had no DLQ)."""
    from moto.awslambda.models import LambdaFunction

    if getattr(LambdaFunction, "_agentocore_patched", False):
        return
    init = LambdaFunction.__init__
    get_configuration = LambdaFunction.get_configuration
    update_configuration = LambdaFunction.update_configuration
    extra_keys = ("DeadLetterConfig", "LoggingConfig")

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kw: Any) -> None:
        init(self, account_id, spec, *args, **kw)
        self.agentocore_config = {k: spec[k] for k in extra_keys if spec.get(k)}

    def configuration(self: Any, *args: Any, **kw: Any) -> dict[str, Any]:
        config: dict[str, Any] = get_configuration(self, *args, **kw)
        config.update(getattr(self, "agentocore_config", {}))
        return config

    def update(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
        self.agentocore_config.update({k: updates[k] for k in extra_keys if k in updates})
        return update_configuration(self, updates)  # type: ignore[no-any-return]

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update  # type: ignore[method-assign]
    LambdaFunction._agentocore_patched = True  # type: ignore[attr-defined]


def apply_hooks() -> None:
    import moto

    if not moto.__version__.startswith(MOTO_SERIES):
        raise SystemExit(
            f"emulator hooks are written for moto {MOTO_SERIES}x, found {moto.__version__}"
        )
    patch_sqs()
    patch_lambda_config()
    import lambda_executor
    import strict_config
    import strict_dynamodb

    strict_dynamodb.install()
    strict_config.install()
    import control_plane
    import fast_moto

    fast_moto.install()
    control_plane.install()
    import s3_bucket_policy
    import strict_events

    s3_bucket_policy.install()
    strict_events.install()
    import ws_management

    ws_management.install()

    lambda_executor.install(endpoint())


def healthy(timeout: float = 1.0) -> bool:
    return answers(f"{endpoint()}/moto-api/", timeout)


DAEMON = Daemon("emulator", endpoint(), healthy)


def start(wait_s: float = 30.0) -> None:
    # Real credentials (if any) are kept for Bedrock calls of functions configured for it.
    child_env = dict(os.environ)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            child_env[f"AGENTOCORE_REAL_{name}"] = os.environ[name]
    argv = [sys.executable, str(Path(__file__).resolve()), "serve"]
    DAEMON.start(argv, env=child_env, wait_s=wait_s)


def stop() -> None:
    DAEMON.stop()


def serve() -> None:
    apply_hooks()
    from moto.server import main as moto_main

    moto_main(["-H", HOST, "-p", str(PORT)])


def main() -> None:
    command_line(DAEMON, start=start, serve=serve, argv=sys.argv)


if __name__ == "__main__":
    main()
