"""Shared fixtures: AWS credentials that cannot reach AWS, a moto DynamoDB table, helpers."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from typing import Any

import botocore.loaders
import botocore.session
import pytest

# Never let a test talk to real AWS: fake credentials, a fixed region, no endpoint override.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

# moto's mock_aws() resets boto3's default session, so every test's first client would parse
# botocore's JSON models again (~100 ms a client). The tests' sessions share one data loader per
# AWS_DATA_PATH instead, the way one long-lived session shares it: the files never change.
botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)  # type: ignore[attr-defined]


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An in-process moto DynamoDB client.

    moto's in-process backend is not thread-safe, while DynamoDB applies each request
    atomically. Requests are serialized here, as a single-threaded server would, so tests with
    concurrent client threads see DynamoDB's semantics rather than moto's data races.
    """
    import boto3
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def serialized(self: Any, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table(dynamodb: Any) -> str:
    """The AgentoCore single table, created from the shared definition."""
    from agentocore.memory.schema import create_table

    create_table(dynamodb, "agentocore-test")
    return "agentocore-test"


class RequestCounter:
    """Counts API calls a boto3 client makes, by operation name."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-call.*.*", self._on_call)

    def _on_call(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def reset(self) -> None:
        self.calls.clear()

    @property
    def count(self) -> int:
        return len(self.calls)


@pytest.fixture
def counter(dynamodb: Any) -> RequestCounter:
    return RequestCounter(dynamodb)
