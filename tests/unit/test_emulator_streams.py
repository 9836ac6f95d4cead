"""DynamoDB Streams -> Lambda event source mappings on the emulator, as AWS delivers them:
a position per mapping, FilterCriteria, BatchSize, Enabled, retries with backoff, bisection,
ReportBatchItemFailures, MaximumRecordAgeInSeconds and the on-failure destination's record.

In-process (moto + the emulator's hooks): the functions run for real (lambda_executor's
subprocess) and append each event's keys to a file; they never call AWS. One end-to-end test
runs the emulator on a free 127.0.0.1 port, the function writing into its SQS."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agentocore.workers.failures import STREAM_DETAIL_TYPE, describe

from .lambda_zip import zip_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import emulator
import ephemeral
import strict_streams

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

REGION = "us-east-1"
# Each record's NewImage may carry "fail": "raise" (the invocation raises) or "report-once"
# (reported in batchItemFailures the first time the function sees it); FAIL=1 fails them all.
HANDLER = """
import json, os

def handler(event, context):
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(keys) + "\\n")
    if os.environ.get("FAIL"):
        raise RuntimeError("down")
    failed = []
    for r in event["Records"]:
        mode = r["dynamodb"].get("NewImage", {}).get("fail", {}).get("S")
        if mode == "raise":
            raise RuntimeError("poison " + r["dynamodb"]["Keys"]["pk"]["S"])
        marker = os.environ["OUT"] + "." + r["dynamodb"]["SequenceNumber"]
        if mode == "report-once" and not os.path.exists(marker):
            open(marker, "w").close()
            failed.append({"itemIdentifier": r["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failed}
"""
OUTBOX_FILTER = {
    "Filters": [
        {
            "Pattern": json.dumps(
                {
                    "eventName": ["INSERT"],
                    "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "OUTBOX#"}]}}},
                }
            )
        }
    ]
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto + the hooks; yields the retry backoffs the consumers asked for (not slept)."""
    backoffs: list[float] = []
    with mock_aws():
        emulator.apply_hooks()
        monkeypatch.setattr(strict_streams, "_sleep", backoffs.append)
        yield backoffs
    for consumer in list(strict_streams._consumers.values()):
        consumer.wake.set()  # their mappings went with the backends: the threads end


class Stack:
    """A table with a stream, functions writing their events to files, queues."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.lam = boto3.client("lambda", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream = self.ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        self.role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="r", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]

    def function(self, name: str, **env: str) -> Path:
        out = self.root / f"{name}.jsonl"
        self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role,
            Handler="handler.handler",
            Code={"ZipFile": zip_of(HANDLER)},
            Environment={"Variables": {"OUT": str(out), **env}},
        )
        return out

    def map(self, name: str, **settings: Any) -> str:
        settings.setdefault("StartingPosition", "TRIM_HORIZON")
        mapping = self.lam.create_event_source_mapping(
            EventSourceArn=self.stream, FunctionName=name, **settings
        )
        return str(mapping["UUID"])

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def put(self, pk: str, **attributes: str) -> None:
        item = {"pk": {"S": pk}, **{k: {"S": v} for k, v in attributes.items()}}
        self.ddb.put_item(TableName="t", Item=item)

    def sequence_numbers(self) -> dict[str, str]:
        """The stream's records (GetRecords, all of them): key -> sequence number (last wins)."""
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        shard = streams.describe_stream(StreamArn=self.stream)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=self.stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        return {r["dynamodb"]["Keys"]["pk"]["S"]: r["dynamodb"]["SequenceNumber"] for r in records}

    def on_failure_records(self, url: str) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


def invocations(out: Path) -> list[list[str]]:
    """The keys of each invocation's records, in invocation order."""
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]


def settle() -> None:
    assert strict_streams.wait_until_idle(120), "stream consumers did not catch up"


@pytest.fixture
def stack(aws: list[float], tmp_path: Path) -> Stack:
    return Stack(tmp_path)


def test_filter_skips_other_records_and_batches_follow_batch_size(stack: Stack) -> None:
    out = stack.function("relay")
    stack.put("OUTBOX#1")
    stack.put("TURN#1")
    stack.put("OUTBOX#2")
    stack.put("OUTBOX#1", extra="modified")  # a MODIFY of an outbox item: filtered out
    stack.put("OUTBOX#3")
    stack.map("relay", BatchSize=2, FilterCriteria=OUTBOX_FILTER)
    settle()
    assert invocations(out) == [["OUTBOX#1", "OUTBOX#2"], ["OUTBOX#3"]]
    stack.put("TURN#2")  # skipped for good: nothing more is delivered
    stack.put("OUTBOX#4")
    settle()
    assert invocations(out)[2:] == [["OUTBOX#4"]]


def test_default_batch_size_is_100_in_stream_order(stack: Stack) -> None:
    out = stack.function("f")
    keys = [f"k{i:03d}" for i in range(230)]
    for key in keys:
        stack.put(key)
    stack.map("f")
    settle()
    got = invocations(out)
    assert [len(batch) for batch in got] == [100, 100, 30]
    assert [key for batch in got for key in batch] == keys


def test_failing_batch_is_retried_with_backoff_then_its_on_failure_record_is_sent(
    stack: Stack, aws: list[float]
) -> None:
    out = stack.function("relay")
    url, queue_arn = stack.queue("outbox-dlq")
    stack.put("OUTBOX#bad", fail="raise")
    stack.map(
        "relay",
        BatchSize=10,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    settle()
    assert invocations(out) == [["OUTBOX#bad"]] * 3  # the first try and 2 retries
    assert aws == [0.5, 1.0]  # backoff between attempts, doubling: no spinning
    [record] = stack.on_failure_records(url)
    seq = stack.sequence_numbers()["OUTBOX#bad"]
    context = record["requestContext"]
    assert context["condition"] == "RetryAttemptsExhausted"
    assert context["approximateInvokeCount"] == 3
    assert context["functionArn"].endswith(":function:relay") and context["requestId"]
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    info = record["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seq
    assert info["batchSize"] == 1 and info["streamArn"] == stack.stream
    assert info["shardId"].startswith("shardId-")
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    # the consumer moved on: the next record is delivered
    stack.put("OUTBOX#good")
    settle()
    assert invocations(out)[3:] == [["OUTBOX#good"]]
    # what dlq_handler makes of it
    failure = describe({"messageId": "m1", "body": json.dumps(record), "eventSourceARN": queue_arn})
    assert failure.detail_type == STREAM_DETAIL_TYPE and failure.attempts == 3
    assert failure.event_id == f"stream:{info['shardId']}:{seq}"
    assert "RetryAttemptsExhausted, function error Unhandled" in failure.error


def test_on_failure_record_can_go_to_an_sns_topic(stack: Stack) -> None:
    stack.function("f", FAIL="1")
    url, queue_arn = stack.queue("alerts")
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="stream-failures")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    stack.put("a")
    stack.map("f", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}})
    settle()
    [notification] = stack.on_failure_records(url)
    record = json.loads(notification["Message"])
    assert record["DDBStreamBatchInfo"]["streamArn"] == stack.stream
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_bisect_isolates_the_poison_record(stack: Stack) -> None:
    out = stack.function("f")
    url, queue_arn = stack.queue("dlq")
    stack.put("a")
    stack.put("b")
    stack.put("c", fail="raise")
    stack.put("d")
    stack.map(
        "f",
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    settle()
    assert invocations(out) == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"], ["c"], ["d"]]
    [record] = stack.on_failure_records(url)
    info = record["DDBStreamBatchInfo"]
    seq = stack.sequence_numbers()["c"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        seq,
        seq,
        1,
    )
    assert record["requestContext"]["approximateInvokeCount"] == 2


def test_batch_item_failures_retry_from_the_failed_record_only_when_reported(
    stack: Stack,
) -> None:
    reporting = stack.function("reporting")
    plain = stack.function("plain")
    for pk, mode in (("a", ""), ("b", "report-once"), ("c", "")):
        stack.put(pk, fail=mode)
    stack.map("reporting", FunctionResponseTypes=["ReportBatchItemFailures"])
    stack.map("plain")  # the same response without ReportBatchItemFailures: a success
    settle()
    assert invocations(reporting) == [["a", "b", "c"], ["b", "c"]]
    assert invocations(plain) == [["a", "b", "c"]]


def test_unknown_item_identifier_fails_the_whole_batch(stack: Stack) -> None:
    source = HANDLER.replace(
        'return {"batchItemFailures": failed}',
        'return {"batchItemFailures": [{"itemIdentifier": "nope"}]}',
    )
    out = stack.root / "f.jsonl"
    stack.lam.create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=stack.role,
        Handler="handler.handler",
        Code={"ZipFile": zip_of(source)},
        Environment={"Variables": {"OUT": str(out)}},
    )
    url, queue_arn = stack.queue("dlq")
    stack.put("a")
    stack.put("b")
    stack.map(
        "f",
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    settle()
    assert invocations(out) == [["a", "b"], ["a", "b"]]
    [record] = stack.on_failure_records(url)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2
    assert "functionError" not in record["responseContext"]  # the function returned


def test_each_mapping_reads_the_stream_on_its_own(stack: Stack) -> None:
    failing = stack.function("failing", FAIL="1")
    reader = stack.function("reader")
    stack.map("failing", MaximumRetryAttempts=0)  # each batch tried once, then dropped
    stack.map("reader", FilterCriteria=OUTBOX_FILTER)
    late = stack.function("late")
    stack.put("OUTBOX#1")
    stack.put("TURN#1")
    stack.put("OUTBOX#2")
    settle()
    assert [k for batch in invocations(reader) for k in batch] == ["OUTBOX#1", "OUTBOX#2"]
    assert [k for batch in invocations(failing) for k in batch] == [
        "OUTBOX#1",
        "TURN#1",
        "OUTBOX#2",
    ]
    # a mapping created now with TRIM_HORIZON still finds every record in the stream
    stack.map("late")
    settle()
    assert [k for batch in invocations(late) for k in batch] == ["OUTBOX#1", "TURN#1", "OUTBOX#2"]
    assert set(stack.sequence_numbers()) == {"OUTBOX#1", "TURN#1", "OUTBOX#2"}


def test_latest_starts_after_the_records_already_there(stack: Stack) -> None:
    out = stack.function("f")
    stack.put("before")
    stack.map("f", StartingPosition="LATEST")
    stack.put("after")
    settle()
    assert invocations(out) == [["after"]]


def test_disabled_mapping_receives_nothing_and_resumes_when_enabled(stack: Stack) -> None:
    out = stack.function("f")
    uuid = stack.map("f", Enabled=False)
    stack.put("a")
    stack.put("b")
    settle()
    assert invocations(out) == []
    stack.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    settle()
    assert invocations(out) == [["a", "b"]]


def test_deleted_mapping_receives_nothing_more(stack: Stack) -> None:
    out = stack.function("f")
    uuid = stack.map("f")
    stack.put("a")
    settle()
    stack.lam.delete_event_source_mapping(UUID=uuid)
    stack.put("b")
    settle()
    assert invocations(out) == [["a"]]


def test_records_older_than_the_maximum_age_go_to_the_destination_uninvoked(
    stack: Stack,
) -> None:
    from moto.dynamodb.models import dynamodb_backends

    out = stack.function("f")
    url, queue_arn = stack.queue("dlq")
    stack.put("old")
    shard = dynamodb_backends["123456789012"][REGION].tables["t"].stream_shard
    written = shard.items[0].record["dynamodb"]
    written["ApproximateCreationDateTime"] -= timedelta(hours=2)  # written two hours ago
    stack.put("new")
    stack.map(
        "f",
        MaximumRecordAgeInSeconds=3600,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    settle()
    assert invocations(out) == [["new"]]
    [record] = stack.on_failure_records(url)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["DDBStreamBatchInfo"]["startSequenceNumber"] == stack.sequence_numbers()["old"]


# --- end to end: the emulator's server, the function writing to its SQS ----------------------

E2E_HANDLER = """
import json, os
import boto3
def handler(event, context):
    sqs = boto3.client("sqs")
    for r in event["Records"]:
        if r["dynamodb"]["NewImage"].get("fail"):
            raise RuntimeError("poison")
        sqs.send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps(r))
    return {"batchItemFailures": []}
"""


def drain(sqs: Any, url: str, count: int, timeout_s: float = 90.0) -> list[dict[str, Any]]:
    """Receive until ``count`` messages arrived (or the deadline passed)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def test_end_to_end_through_the_emulator_server(tmp_path: Path) -> None:
    with ephemeral.server(hooks=True) as endpoint:
        kw: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        ddb, sqs, lam = (boto3.client(s, **kw) for s in ("dynamodb", "sqs", "lambda"))
        ddb.create_table(
            TableName="memory",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        stream = ddb.describe_table(TableName="memory")["Table"]["LatestStreamArn"]
        seen = sqs.create_queue(QueueName="seen")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="outbox-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        role = boto3.client("iam", **kw).create_role(
            RoleName="relay", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        lam.create_function(
            FunctionName="relay",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": zip_of(E2E_HANDLER)},
            Timeout=30,
            Environment={"Variables": {"SEEN": seen}},
        )
        # terraform/outbox.tf's mapping, with fewer retries
        lam.create_event_source_mapping(
            EventSourceArn=stream,
            FunctionName="relay",
            StartingPosition="TRIM_HORIZON",
            BatchSize=10,
            BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=1,
            MaximumRecordAgeInSeconds=3600,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            FilterCriteria={
                "Filters": [
                    {
                        "Pattern": json.dumps(
                            {
                                "eventName": ["INSERT"],
                                "dynamodb": {"Keys": {"PK": {"S": [{"prefix": "OUTBOX#"}]}}},
                            }
                        )
                    }
                ]
            },
            DestinationConfig={"OnFailure": {"Destination": dlq_arn["Attributes"]["QueueArn"]}},
        )
        ddb.put_item(TableName="memory", Item={"PK": {"S": "TURN#1"}})
        ddb.put_item(TableName="memory", Item={"PK": {"S": "OUTBOX#bad"}, "fail": {"S": "1"}})
        ddb.put_item(TableName="memory", Item={"PK": {"S": "OUTBOX#good"}})
        [failed] = drain(sqs, dlq, 1)
        relayed = drain(sqs, seen, 1)
    assert [r["dynamodb"]["Keys"]["PK"]["S"] for r in relayed] == ["OUTBOX#good"]
    assert relayed[0]["eventName"] == "INSERT" and relayed[0]["eventSourceARN"] == stream
    assert failed["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failed["DDBStreamBatchInfo"]["batchSize"] == 1
    failure = describe({"messageId": "m", "body": json.dumps(failed)})
    assert failure.detail_type == STREAM_DETAIL_TYPE and "function error Unhandled" in failure.error
