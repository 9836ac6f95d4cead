"""Integration tests run against a deployed workspace on the emulator endpoint.

``localstack/terraform_apply_test.py`` deploys, sets ``AGENTOCORE_TF_OUTPUTS`` /
``AGENTOCORE_TF_STATE`` and runs this folder; without them there is nothing to test against.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from ..iam.state import managed

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")


def wait_for(probe: Any, timeout_s: float = 90.0, interval_s: float = 0.5) -> Any:
    """Poll until ``probe()`` is truthy: a bounded wait for asynchronous effects, not a timing
    assertion."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval_s)
    return probe()


def item(aws: Any, outputs: dict[str, Any], pk: str, sk: str = "META") -> Any:
    """One item of the deployed table (a consistent read), or None."""
    key = {"PK": {"S": pk}, "SK": {"S": sk}}
    table = outputs["table_name"]
    return aws("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def turns(aws: Any, outputs: dict[str, Any], conversation_id: str) -> list[Any]:
    """The stored turns of a conversation."""
    return list(
        aws("dynamodb").query(
            TableName=outputs["table_name"],
            KeyConditionExpression="PK = :pk AND begins_with(SK, :t)",
            ExpressionAttributeValues={
                ":pk": {"S": f"CONV#{conversation_id}"},
                ":t": {"S": "TURN#"},
            },
            ConsistentRead=True,
        )["Items"]
    )


def _load(name: str) -> Any:
    path = os.environ.get(name)
    if not path:
        pytest.skip(f"{name} is not set: run `make tf-apply-test` (deploys, then runs these tests)")
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def outputs() -> dict[str, Any]:
    return {k: v["value"] for k, v in _load("AGENTOCORE_TF_OUTPUTS").items()}


@pytest.fixture(scope="session")
def resources() -> list[dict[str, Any]]:
    """Every resource in the Terraform state (all modules), fully resolved."""
    return managed(_load("AGENTOCORE_TF_STATE"))


@pytest.fixture(scope="session")
def aws() -> Any:
    def client(service: str) -> Any:
        assert ENDPOINT.startswith("http://127.0.0.1"), "tests only talk to the local emulator"
        return boto3.client(service, endpoint_url=ENDPOINT, region_name="us-east-1")

    return client
