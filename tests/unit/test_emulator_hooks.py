"""The emulator's hooks into moto (pinned 5.2.x): exercised in-process, no server needed."""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from pathlib import Path

import boto3
import moto
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import emulator

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"event": event, "fn": context.function_name}) + "\\n")
    if os.environ.get("FAIL"):
        raise RuntimeError("forced failure")
    return {"ok": True}
"""


@pytest.fixture
def aws(tmp_path):
    with mock_aws():
        emulator.apply_hooks()
        yield tmp_path


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", HANDLER)
    return buf.getvalue()


def make_function(name, out, **env):
    role = boto3.client("iam").create_role(RoleName=f"r-{name}", AssumeRolePolicyDocument="{}")
    kwargs = {}
    if "dlq" in env:
        kwargs["DeadLetterConfig"] = {"TargetArn": env.pop("dlq")}
    return boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": zip_bytes()},
        Environment={"Variables": {"OUT": str(out), **env}},
        **kwargs,
    )["FunctionArn"]


def queue(name):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def records(path, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.1)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_pinned_moto_series():
    assert moto.__version__.startswith(emulator.MOTO_SERIES)


def test_sqs_reports_the_redrive_allow_policy(aws):
    sqs = boto3.client("sqs")
    url, _ = queue("q")
    policy = json.dumps({"redrivePermission": "denyAll"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": policy})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedriveAllowPolicy"]) == {"redrivePermission": "denyAll"}


def test_invoke_runs_the_zip_in_a_subprocess(aws):
    out = aws / "invocations.jsonl"
    make_function("f", out)
    response = boto3.client("lambda").invoke(FunctionName="f", Payload=json.dumps({"hello": 1}))
    assert json.loads(response["Payload"].read()) == {"ok": True}
    [record] = records(out)
    assert record == {"event": {"hello": 1}, "fn": "f"}


def test_dead_letter_config_is_kept_and_async_failures_reach_it(aws):
    out = aws / "fails.jsonl"
    dlq_url, dlq_arn = queue("fn-dlq")
    make_function("g", out, FAIL="1", dlq=dlq_arn)
    config = boto3.client("lambda").get_function_configuration(FunctionName="g")
    assert config["DeadLetterConfig"] == {"TargetArn": dlq_arn}
    boto3.client("lambda").invoke(FunctionName="g", InvocationType="Event", Payload=b'{"n": 1}')
    sqs = boto3.client("sqs")
    deadline, messages = time.monotonic() + 60, []
    while time.monotonic() < deadline and not messages:
        messages = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        time.sleep(0.2)
    [message] = messages
    assert json.loads(message["Body"]) == {"n": 1}
    assert "forced failure" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert len(records(out)) == 3  # the first try and Lambda's 2 retries


def test_eventbridge_delivers_matching_events_to_lambda_targets(aws):
    out = aws / "events.jsonl"
    arn = make_function("h", out)
    events = boto3.client("events")
    events.put_rule(
        Name="big",
        EventPattern=json.dumps({"detail": {"amount": [{"numeric": [">", 1000]}]}}),
    )
    events.put_targets(Rule="big", Targets=[{"Id": "h", "Arn": arn}])
    events.put_events(
        Entries=[
            {"Source": "t", "DetailType": "R", "Detail": json.dumps({"amount": a})}
            for a in (5000, 50)
        ]
    )
    got = records(out)
    assert [r["event"]["detail"]["amount"] for r in got] == [5000]


def test_sqs_event_source_records_carry_message_attributes(aws):
    sys.path.insert(0, str(Path(emulator.__file__).parent))
    import lambda_executor

    out = aws / "esm.jsonl"
    make_function("d", out)
    _, arn = queue("dead-letters")
    boto3.client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName="d", BatchSize=1
    )
    lambda_executor._send_to_dlq(
        "123456789012", "us-east-1", arn, '{"x": 1}', {"ErrorCode": "200", "ErrorMessage": "boom"}
    )
    [record] = records(out)
    attrs = record["event"]["Records"][0]["messageAttributes"]
    assert attrs["ErrorMessage"]["stringValue"] == "boom"
