"""Fixtures for handler tests: moto with the table, bus, topics and capture queues; handler
modules loaded from functions/<name>/ as Lambda loads them; API Gateway v2 events."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from agentocore import ScriptedModel, Settings
from agentocore.runtime import Runtime

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
SOURCES = ["agentocore.agent", "agentocore.actions", "agentocore.approvals", "agentocore.workers"]


def load_function(name: str) -> Any:
    """Import functions/<name>/handler.py under a unique module name, with its folder on the
    path for sibling modules (as the Lambda runtime does)."""
    folder = ROOT / "functions" / name
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    module_name = f"fn_{name}_handler"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, folder / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Stack:
    """The AWS resources of one test, and helpers to read what reached them."""

    table: str
    bus: str
    approvals_topic: str
    alerts_topic: str
    bus_queue: str
    approvals_queue: str
    alerts_queue: str
    dynamodb: Any
    sqs: Any
    events: Any
    s3: Any
    sns: Any
    seen_sequences: set[str] = field(default_factory=set)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        out = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

    def bus_events(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        """What reached the bus, once outbox_relay has run on the new stream records (as the
        stack's event source mapping would)."""
        self.relay_outbox()
        events = self.drain(self.bus_queue)
        return [e for e in events if detail_type is None or e["detail-type"] == detail_type]

    def stream_records(self) -> list[dict[str, Any]]:
        """The table's stream records not returned before (the Lambda event's shape)."""
        streams = boto3.client(  # moto routes the classic endpoint only
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        out = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for record in streams.get_records(ShardIterator=iterator)["Records"]:
                seq = record["dynamodb"]["SequenceNumber"]
                if seq not in self.seen_sequences:
                    self.seen_sequences.add(seq)
                    out.append({**record, "eventSourceARN": arn})
        return out

    def relay_outbox(self) -> dict[str, Any]:
        """Run outbox_relay on the new stream records, as the event source mapping would."""
        records = self.stream_records()
        if not records:
            return {"batchItemFailures": []}
        module = load_function("outbox_relay")
        return dict(module.handler({"Records": records}, LambdaContext()))

    def notices(self, queue_url: str) -> list[dict[str, Any]]:
        return [
            {"subject": n.get("Subject"), "message": json.loads(n["Message"])}
            for n in self.drain(queue_url)
        ]

    def items(self, prefix: str = "", *, events: bool = False) -> list[dict[str, Any]]:
        """The table's items under ``prefix``: the state, without the run event log's items
        (``EVT#``, observability with a TTL) unless ``events``."""
        items = self.dynamodb.scan(TableName=self.table)["Items"]
        return [
            i
            for i in items
            if i["PK"]["S"].startswith(prefix) and (events or not i["SK"]["S"].startswith("EVT#"))
        ]

    def run_events(self, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's logged run events, in order."""
        from agentocore.stream.log import EventLog

        log = EventLog(self.table, client=self.dynamodb)
        return [record for _, record in log.read(conversation_id, limit=1000)]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, dynamodb: Any, table: str) -> Stack:
    """Table + bus (with a capture rule) + approvals/alerts topics with capture queues."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)

    def queue(name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    events.create_event_bus(Name="agentocore-test")
    bus_url, bus_arn = queue("bus-capture")
    events.put_rule(
        Name="capture-all",
        EventBusName="agentocore-test",
        EventPattern=json.dumps({"source": SOURCES}),
    )
    events.put_targets(
        Rule="capture-all", EventBusName="agentocore-test", Targets=[{"Id": "q", "Arn": bus_arn}]
    )
    topics = {}
    for name in ("approvals", "alerts"):
        topic = sns.create_topic(Name=f"agentocore-{name}")["TopicArn"]
        url, arn = queue(f"{name}-capture")
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        topics[name] = (topic, url)
    s3.create_bucket(Bucket="agentocore-inbox")

    env = {
        "AGENTOCORE_TABLE_NAME": table,
        "AGENTOCORE_EVENT_BUS_NAME": "agentocore-test",
        "AGENTOCORE_APPROVALS_TOPIC_ARN": topics["approvals"][0],
        "AGENTOCORE_ALERTS_TOPIC_ARN": topics["alerts"][0],
        "AGENTOCORE_MODEL": "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "AgentoCore",
        "AWS_LAMBDA_FUNCTION_NAME": "test-function",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Stack(
        table=table,
        bus="agentocore-test",
        approvals_topic=topics["approvals"][0],
        alerts_topic=topics["alerts"][0],
        bus_queue=bus_url,
        approvals_queue=topics["approvals"][1],
        alerts_queue=topics["alerts"][1],
        dynamodb=dynamodb,
        sqs=sqs,
        events=events,
        s3=s3,
        sns=sns,
    )


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    sub: str | None = "user-a",
    groups: str | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event with a JWT authorizer context."""
    claims: dict[str, Any] = {}
    if sub is not None:
        claims["sub"] = sub
    if groups is not None:
        claims["cognito:groups"] = groups
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {
            "content-type": "application/json",
            "host": "api.example.com",
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api123",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}} if claims else None,
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "25/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1795683600000,
        },
        "body": text,
        "isBase64Encoded": False,
    }


def eventbridge_event(detail_type: str, detail: dict[str, Any], source: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-25T09:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def install_runtime(module: Any, steps: list[Any], **settings: Any) -> ScriptedModel:
    """Give a handler module a runtime whose model plays ``steps``."""
    model = ScriptedModel(steps, model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    settings.setdefault("app", "example_app")  # the example's tools and action types
    if hasattr(module, "runtime"):
        module.runtime.set(Runtime(Settings.from_env(**settings), model=model))
    for name in (
        "invoke_once",
        "perform_once",
        "request_once",
        "post_once",
        "run_handler_once",
        "action_progress_once",
    ):
        if hasattr(module, name):
            getattr(module, name).reset()
    for name in ("worker", "requester", "recorder", "relay"):
        if hasattr(module, name):
            getattr(module, name).set(None)
    return model


def response_json(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response["statusCode"], json.loads(response["body"])
