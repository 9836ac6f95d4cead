"""End-to-end fixtures: the deployed workspace, the local API front, capture queues."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (  # noqa: F401
    aws,
    item,
    outputs,
    resources,
    turns,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["agentocore.agent", "agentocore.actions", "agentocore.approvals", "agentocore.workers"]


class Api:
    """HTTP client of the local API front."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        user: str | None = "alice",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if user:
            request.add_header("Authorization", f"Bearer {user}")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="session")
def fronts(outputs: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    """The local HTTP front (with the console) and WebSocket front over the deployed APIs."""
    sys.path.insert(0, str(ROOT / "localstack"))
    from emulator import endpoint
    from fronts import start_fronts

    started = start_fronts(outputs, endpoint())
    yield started
    started.stop()


@pytest.fixture(scope="session")
def api(fronts: Any) -> Api:
    return Api(fronts.api_url)


class Capture:
    """An SQS queue receiving what a topic or the bus publishes."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url, self.seen = sqs, url, []

    def poll(self) -> list[Any]:
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not msgs:
                return self.seen
            for m in msgs:
                body = json.loads(m["Body"])
                self.seen.append(json.loads(body["Message"]) if "TopicArn" in body else body)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def find(self, predicate: Any, timeout_s: float = 90.0) -> Any:
        return wait_for(lambda: next((x for x in self.poll() if predicate(x)), None), timeout_s)


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


@pytest.fixture(scope="session")
def captures(aws: Any, outputs: dict[str, Any]) -> dict[str, Capture]:  # noqa: F811
    sqs, sns, events = aws("sqs"), aws("sns"), aws("events")
    found = {}
    for name, topic in (
        ("approvals", outputs["approvals_topic_arn"]),
        ("alerts", outputs["alerts_topic_arn"]),
    ):
        url, arn = _queue(sqs, f"e2e-{name}-capture")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        found[name] = Capture(sqs, url)
    url, arn = _queue(sqs, "e2e-bus-capture")
    bus = outputs["event_bus_name"]
    events.put_rule(
        Name="e2e-capture", EventBusName=bus, EventPattern=json.dumps({"source": SOURCES})
    )
    events.put_targets(
        Rule="e2e-capture", EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}]
    )
    found["bus"] = Capture(sqs, url)
    yield found
    events.remove_targets(Rule="e2e-capture", EventBusName=bus, Ids=["capture"])
    events.delete_rule(Name="e2e-capture", EventBusName=bus)
