"""Lambda's asynchronous invocation on the emulator, for S3 bucket notifications as for
``InvocationType=Event``: PutObject answers before the function runs to its end; a failing
function is retried per its event invoke config (MaximumRetryAttempts,
MaximumEventAgeInSeconds), then dead-lettered (the function's DLQ, the on-failure destination).

In-process (moto + the emulator's hooks, the functions run for real in lambda_executor's
subprocesses and write what they saw to a file); one test runs the emulator's server on a free
127.0.0.1 port."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws

from agentocore.workers.failures import describe

from .lambda_zip import zip_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import emulator
import ephemeral
import lambda_executor

REGION = "us-east-1"
# Notes "started", waits for the GATE file when one is named (at most 60 s), notes "finished",
# then fails when FAIL is set.
pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

HANDLER = """
import json, os, time

def handler(event, context):
    key = event["Records"][0]["s3"]["object"]["key"]
    def note(what):
        with open(os.environ["OUT"], "a") as f:
            f.write(json.dumps({"what": what, "key": key}) + "\\n")
    note("started")
    deadline = time.monotonic() + 60
    while os.environ.get("GATE") and not os.path.exists(os.environ["GATE"]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    note("finished")
    if os.environ.get("FAIL"):
        raise RuntimeError("forced failure")
    return {"ok": True}
"""


class Inbox:
    """A bucket notifying a function (ObjectCreated), the function's files and queues."""

    def __init__(self, root: Path, **kw: Any) -> None:
        self.root, self.kw = root, {"region_name": REGION, **kw}
        self.s3, self.sqs, self.lam = (boto3.client(s, **self.kw) for s in ("s3", "sqs", "lambda"))
        self.s3.create_bucket(Bucket="inbox")
        self.out = root / "invocations.jsonl"

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def function(self, dlq: str | None = None, **env: str) -> str:
        role = boto3.client("iam", **self.kw).create_role(
            RoleName="r", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        arn = self.lam.create_function(
            FunctionName="reader",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": zip_of(HANDLER)},
            Timeout=90,
            Environment={"Variables": {"OUT": str(self.out), **env}},
            **({"DeadLetterConfig": {"TargetArn": dlq}} if dlq else {}),
        )["FunctionArn"]
        self.s3.put_bucket_notification_configuration(
            Bucket="inbox",
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
        return str(arn)

    def upload(self, key: str) -> None:
        self.s3.put_object(Bucket="inbox", Key=key, Body=b"hello")

    def seen(self) -> list[str]:
        """What the function noted, in order."""
        if not self.out.exists():
            return []
        return [json.loads(line)["what"] for line in self.out.read_text().splitlines()]

    def messages(self, url: str, wait_s: int = 0) -> list[dict[str, Any]]:
        return list(
            self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=wait_s,
            ).get("Messages", [])
        )


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    with mock_aws():
        emulator.apply_hooks()
        yield Inbox(tmp_path)
        assert lambda_executor.wait_until_idle(180), "asynchronous invocations still running"


def settle() -> None:
    assert lambda_executor.wait_until_idle(180), "asynchronous invocations did not finish"


def test_put_object_answers_before_the_notified_function_finishes(
    inbox: Inbox, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    inbox.function(GATE=str(gate))
    inbox.upload("conversations/c1/note.txt")
    # moto ran the function inside the request: it would have finished (waiting out the gate)
    assert "finished" not in inbox.seen()
    gate.touch()
    settle()
    assert inbox.seen() == ["started", "finished"]


def test_a_failing_function_is_retried_then_dead_lettered(inbox: Inbox) -> None:
    url, dlq = inbox.queue("reader-dlq")
    inbox.function(dlq=dlq, FAIL="1")
    inbox.lam.put_function_event_invoke_config(FunctionName="reader", MaximumRetryAttempts=1)
    inbox.upload("conversations/c1/note.txt")  # the function's error is not the request's
    settle()
    assert inbox.seen() == ["started", "finished"] * 2  # the first try and 1 retry
    [message] = inbox.messages(url)
    event = json.loads(message["Body"])
    assert event["Records"][0]["eventSource"] == "aws:s3"
    assert unquote_plus(event["Records"][0]["s3"]["object"]["key"]) == "conversations/c1/note.txt"
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ErrorMessage"] == "RuntimeError: forced failure"
    assert attributes["ErrorCode"] == "200" and attributes["RequestID"]
    # what dlq_handler makes of it
    failure = describe(
        {
            "messageId": "m",
            "body": message["Body"],
            "messageAttributes": message["MessageAttributes"],
        }
    )
    assert failure.error == "200: RuntimeError: forced failure"
    assert failure.original == event


def test_lambda_default_is_two_retries(inbox: Inbox) -> None:
    url, dlq = inbox.queue("reader-dlq")
    inbox.function(dlq=dlq, FAIL="1")
    inbox.upload("conversations/c1/note.txt")
    settle()
    assert inbox.seen().count("started") == 3
    assert len(inbox.messages(url)) == 1


def test_the_on_failure_destination_gets_the_invocation_record(inbox: Inbox) -> None:
    url, destination = inbox.queue("reader-failures")
    arn = inbox.function(FAIL="1")
    inbox.lam.put_function_event_invoke_config(
        FunctionName="reader",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": destination}},
    )
    inbox.upload("conversations/c1/note.txt")
    settle()
    assert inbox.seen() == ["started", "finished"]
    [message] = inbox.messages(url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"] == f"{arn}:$LATEST"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "forced failure"
    assert record["requestPayload"]["Records"][0]["s3"]["bucket"]["name"] == "inbox"
    failure = describe({"messageId": "m", "body": message["Body"]})
    assert failure.error == "RuntimeError: forced failure" and failure.attempts == 1


def test_an_event_older_than_the_maximum_age_is_not_retried(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, dlq = inbox.queue("reader-dlq")
    inbox.function(dlq=dlq, FAIL="1")
    inbox.lam.put_function_event_invoke_config(
        FunctionName="reader", MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60
    )
    readings = iter([0.0, 0.0])  # queued, first try; every later reading is 2 minutes on
    monkeypatch.setattr(lambda_executor, "_clock", lambda: next(readings, 120.0))
    inbox.upload("conversations/c1/note.txt")
    settle()
    assert inbox.seen() == ["started", "finished"]  # tried once, then too old to retry
    [message] = inbox.messages(url)
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == (
        "RuntimeError: forced failure"
    )


def test_a_notification_to_a_deleted_function_does_not_fail_the_upload(inbox: Inbox) -> None:
    inbox.function()
    inbox.lam.delete_function(FunctionName="reader")
    inbox.upload("conversations/c1/note.txt")
    settle()
    assert inbox.seen() == []


def test_put_replaces_the_event_invoke_config_and_update_merges(inbox: Inbox) -> None:
    inbox.function()
    lam = inbox.lam
    lam.put_function_event_invoke_config(FunctionName="reader", MaximumRetryAttempts=1)
    lam.put_function_event_invoke_config(FunctionName="reader", MaximumEventAgeInSeconds=600)
    config = lam.get_function_event_invoke_config(FunctionName="reader")
    assert config["MaximumEventAgeInSeconds"] == 600 and "MaximumRetryAttempts" not in config
    lam.update_function_event_invoke_config(FunctionName="reader", MaximumRetryAttempts=0)
    config = lam.get_function_event_invoke_config(FunctionName="reader")
    assert (config["MaximumEventAgeInSeconds"], config["MaximumRetryAttempts"]) == (600, 0)
    assert (
        len(
            lam.list_function_event_invoke_configs(FunctionName="reader")[
                "FunctionEventInvokeConfigs"
            ]
        )
        == 1
    )


def test_through_the_emulator_server(tmp_path: Path) -> None:
    """PutObject over HTTP answers while the function waits; its failure is retried and lands
    in the function's DLQ."""
    gate = tmp_path / "gate"
    with ephemeral.server(hooks=True) as endpoint:
        inbox = Inbox(
            tmp_path,
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        url, dlq = inbox.queue("reader-dlq")
        inbox.function(dlq=dlq, FAIL="1", GATE=str(gate))
        inbox.lam.put_function_event_invoke_config(FunctionName="reader", MaximumRetryAttempts=1)
        inbox.upload("conversations/c1/note.txt")
        assert "finished" not in inbox.seen()
        gate.touch()
        messages: list[dict[str, Any]] = []
        for _ in range(60):  # long polls: a bounded wait for the retry and the DLQ
            messages = inbox.messages(url, wait_s=2)
            if messages:
                break
    assert inbox.seen() == ["started", "finished"] * 2
    [message] = messages
    key = json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"]
    assert unquote_plus(key) == "conversations/c1/note.txt"
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == (
        "RuntimeError: forced failure"
    )


# Notes the whole event and the request id; fails when FAIL is set.
SNS_HANDLER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({**event, "request_id": context.aws_request_id}) + "\\n")
    if os.environ.get("FAIL"):
        raise RuntimeError("forced failure")
"""


def test_sns_invokes_subscribers_asynchronously_with_the_real_notification(
    inbox: Inbox, tmp_path: Path
) -> None:
    """moto invoked SNS subscribers synchronously, dropped their errors and sent a fixed
    TopicArn, MessageId and attributes; the hook sends what was published, asynchronously."""
    url, dlq = inbox.queue("listener-dlq")
    out = tmp_path / "sns.jsonl"
    role = boto3.client("iam", **inbox.kw).create_role(
        RoleName="sns-listener", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    arn = inbox.lam.create_function(
        FunctionName="listener",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_of(SNS_HANDLER)},
        Environment={"Variables": {"OUT": str(out), "FAIL": "1"}},
        DeadLetterConfig={"TargetArn": dlq},
    )["FunctionArn"]
    inbox.lam.put_function_event_invoke_config(FunctionName="listener", MaximumRetryAttempts=1)
    sns = boto3.client("sns", **inbox.kw)
    topic = sns.create_topic(Name="inbound")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    message_id = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="greeting",
        MessageAttributes={"conversation_id": {"DataType": "String", "StringValue": "c9"}},
    )["MessageId"]  # the function's error is not the publisher's
    settle()
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 2  # the first try and 1 retry, under one request id (as Lambda's)
    assert events[0]["request_id"] == events[1]["request_id"]
    record = events[0]["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"].startswith(topic)
    notification = record["Sns"]
    assert (notification["TopicArn"], notification["MessageId"]) == (topic, message_id)
    assert (notification["Message"], notification["Subject"]) == ("hello", "greeting")
    assert notification["MessageAttributes"] == {
        "conversation_id": {"Type": "String", "Value": "c9"}
    }
    [dead] = inbox.messages(url)
    assert json.loads(dead["Body"])["Records"][0]["Sns"]["MessageId"] == message_id
