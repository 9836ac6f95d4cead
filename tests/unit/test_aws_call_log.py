"""localstack/aws_call_log.py: each API call becomes the IAM requests it needs (in-process moto)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import aws_call_log

from agentocore.memory.schema import table_definition

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t"


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 session whose calls are recorded, and a reader of the records."""
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(**table_definition("t"))
        core = botocore.session.Session()
        core.register("before-parameter-build", aws_call_log._handler(str(log)))
        session = boto3.Session(botocore_session=core, region_name="us-east-1")

        def read() -> list[dict[str, Any]]:
            return [json.loads(line) for line in log.read_text().splitlines()]

        yield session, read
    aws_call_log._schemas.clear()


def test_item_calls_carry_the_partition_key(recorded: Any) -> None:
    session, read = recorded
    ddb = session.client("dynamodb")
    ddb.put_item(TableName="t", Item={"PK": {"S": "CONV#1"}, "SK": {"S": "META"}, "x": {"S": "1"}})
    ddb.get_item(TableName="t", Key={"PK": {"S": "CONV#1"}, "SK": {"S": "META"}})
    (put,), (get,) = (r["requests"] for r in read())
    assert put == {
        "action": "dynamodb:PutItem",
        "resource": TABLE_ARN,
        "context": {"dynamodb:LeadingKeys": ["CONV#1"], "dynamodb:Attributes": ["PK", "SK", "x"]},
    }
    assert get["context"] == {"dynamodb:LeadingKeys": ["CONV#1"]}
    assert read()[0]["function"] == "fn"


def test_update_attributes_include_keys_update_and_condition(recorded: Any) -> None:
    session, read = recorded
    with pytest.raises(session.client("dynamodb").exceptions.ConditionalCheckFailedException):
        session.client("dynamodb").update_item(
            TableName="t",
            Key={"PK": {"S": "OUTBOX#1"}, "SK": {"S": "A"}},
            UpdateExpression="SET #p = :now REMOVE outbox_pending",
            ConditionExpression="attribute_exists(PK) AND size(#p) > :z",
            ExpressionAttributeNames={"#p": "published_at"},
            ExpressionAttributeValues={":now": {"S": "t"}, ":z": {"N": "0"}},
        )
    (update,) = read()[0]["requests"]
    assert update["context"] == {
        "dynamodb:LeadingKeys": ["OUTBOX#1"],
        "dynamodb:Attributes": ["PK", "SK", "outbox_pending", "published_at"],
    }


def test_transactions_authorize_each_element(recorded: Any) -> None:
    session, read = recorded
    key = {"PK": {"S": "BUDGET#u"}, "SK": {"S": "D"}}
    session.client("dynamodb").transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {"PK": {"S": "CONV#1"}, "SK": {"S": "T"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": key,
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"PK": {"S": "X#1"}, "SK": {"S": "M"}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {"Delete": {"TableName": "t", "Key": {"PK": {"S": "Y#1"}, "SK": {"S": "M"}}}},
        ]
    )
    requests = read()[0]["requests"]
    assert [(r["action"], r["context"]["dynamodb:LeadingKeys"]) for r in requests] == [
        ("dynamodb:PutItem", ["CONV#1"]),
        ("dynamodb:UpdateItem", ["BUDGET#u"]),
        ("dynamodb:ConditionCheckItem", ["X#1"]),
        ("dynamodb:DeleteItem", ["Y#1"]),
    ]


def test_queries_name_the_index_and_its_hash_key_value(recorded: Any) -> None:
    session, read = recorded
    ddb = session.client("dynamodb")
    ddb.query(
        TableName="t",
        IndexName="UserIdIndex",
        KeyConditionExpression="#u = :u AND updated_at > :t",
        ExpressionAttributeNames={"#u": "user_id"},
        ExpressionAttributeValues={":u": {"S": "APPROVALS#pending"}, ":t": {"S": "0"}},
    )
    session.resource("dynamodb").Table("t").query(
        KeyConditionExpression=boto3.dynamodb.conditions.Key("PK").eq("CONV#9")
    )
    ddb.scan(TableName="t")
    index, resource_query, scan = (r["requests"][0] for r in read())
    assert index == {
        "action": "dynamodb:Query",
        "resource": f"{TABLE_ARN}/index/UserIdIndex",
        "context": {"dynamodb:LeadingKeys": ["APPROVALS#pending"]},
    }
    assert resource_query["context"] == {"dynamodb:LeadingKeys": ["CONV#9"]}
    assert scan == {"action": "dynamodb:Scan", "resource": TABLE_ARN, "context": {}}


def test_put_events_groups_entries_by_bus(recorded: Any) -> None:
    session, read = recorded
    events = session.client("events")
    events.create_event_bus(Name="b")
    events.put_events(
        Entries=[
            {"EventBusName": "b", "Source": "s1", "DetailType": "D1", "Detail": "{}"},
            {"EventBusName": "b", "Source": "s2", "DetailType": "D1", "Detail": "{}"},
            {"Source": "s3", "DetailType": "D3", "Detail": "{}"},
        ]
    )
    _, put = read()
    assert put["requests"] == [
        {
            "action": "events:PutEvents",
            "resource": "arn:aws:events:us-east-1:123456789012:event-bus/b",
            "context": {"events:source": ["s1", "s2"], "events:detail-type": ["D1"]},
        },
        {
            "action": "events:PutEvents",
            "resource": "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "context": {"events:source": ["s3"], "events:detail-type": ["D3"]},
        },
    ]
    assert read()[0]["unmapped"] is True  # CreateEventBus: not a call functions make
