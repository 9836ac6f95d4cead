"""One conversation's AWS, in process: moto with the table, bus, topics and capture queues of
``tests/unit/functions/conftest.py`` (its ``Stack``), and the handler modules as Lambda loads
them, their per-container singletons reset."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "functions") not in sys.path:  # the example app, as the layer ships it
    sys.path.insert(0, str(ROOT / "functions"))

import boto3  # noqa: E402
import pytest  # noqa: E402

import tests.conftest  # noqa: E402, F401  (fake credentials and region, never real AWS)
from agentocore.memory.schema import create_table  # noqa: E402
from tests.unit.functions import conftest  # noqa: E402
from tests.unit.functions.conftest import (  # noqa: E402
    REGION,
    LambdaContext,
    Stack,
    load_function,
)

TABLE = "agentocore-test"
FUNCTIONS = ("agent_executor", "outbox_relay", "standard_worker", "approval_worker", "dlq_handler")
#: Per-container objects of the handler modules (built on first use; reset per conversation).
SINGLETONS = ("runtime", "worker", "requester", "recorder", "relay")
IDEMPOTENT = ("invoke_once", "post_once", "perform_once", "run_handler_once", "request_once")

__all__ = [
    "FUNCTIONS",
    "REGION",
    "ROOT",
    "TABLE",
    "LambdaContext",
    "Stack",
    "aws_stack",
    "handlers",
]


def handlers() -> dict[str, Any]:
    """The five handler modules (imported once per process)."""
    return {name: load_function(name) for name in FUNCTIONS}


def reset_containers(modules: dict[str, Any]) -> None:
    """Cold-start every function: no runtime, idempotency layer or client survives."""
    for module in modules.values():
        for name in SINGLETONS:
            if hasattr(module, name):
                getattr(module, name).set(None)
        for name in IDEMPOTENT:
            if hasattr(module, name):
                getattr(module, name).reset()
    from example_app import stores  # type: ignore[import-not-found]

    stores._stores.clear()


def share_botocore_loader() -> None:
    """One botocore data loader for every session of the process (test speed only): moto
    resets boto3's default session and Powertools builds a session per idempotency layer, and
    each new session would parse the service models' JSON again (~1 s per conversation)."""
    import functools

    import botocore.session

    if not hasattr(botocore.session.create_loader, "cache_info"):
        botocore.session.create_loader = functools.lru_cache(maxsize=None)(
            botocore.session.create_loader
        )


@contextmanager
def aws_stack(env: dict[str, str]) -> Iterator[Stack]:
    """moto's AWS with the test stack (the handler tests' ``stack`` fixture, reused), the
    environment set; undone on exit. moto's requests are serialized, as in tests/conftest.py."""
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    share_botocore_loader()
    patch = pytest.MonkeyPatch()
    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def serialized(self: Any, request: Any) -> Any:
        with lock:
            return original(self, request)

    patch.setattr(BotocoreStubber, "process_request", serialized)
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            create_table(dynamodb, TABLE)
            build = conftest.stack.__wrapped__  # type: ignore[attr-defined]
            stack: Stack = build(patch, dynamodb, TABLE)
            for key, value in env.items():
                patch.setenv(key, value)
            yield stack
    finally:
        patch.undo()


class IdempotencyClock:
    """Powertools idempotency's clock, shifted by the seconds a client waited: a retry that got
    409 ``idempotency_in_progress`` comes back after the in-progress record expired (Lambda's
    remaining time), as a patient client would. Only Powertools' records see the shift."""

    MODULES = ("base", "dynamodb", "datarecord")

    def __init__(self) -> None:
        self.offset_s = 0.0

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    @contextmanager
    def installed(self) -> Iterator[IdempotencyClock]:
        import datetime as real
        import importlib
        import types

        clock = self

        class Shifted(real.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> real.datetime:  # type: ignore[override]
                return real.datetime.now(tz) + real.timedelta(seconds=clock.offset_s)

        shim = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real) if k[0] != "_"})
        shim.datetime = Shifted
        patch = pytest.MonkeyPatch()
        for name in self.MODULES:
            module = importlib.import_module(
                f"aws_lambda_powertools.utilities.idempotency.persistence.{name}"
            )
            patch.setattr(module, "dt", shim)
        try:
            yield self
        finally:
            patch.undo()
