"""FaultyClient on moto: DynamoDB and EventBridge faults as AWS raises them, seeded."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from agentocore.ddb import is_condition_failure
from agentocore.faults import FaultyClient

TABLE = "faults-test"


@pytest.fixture
def ddb(dynamodb: Any) -> Any:
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@pytest.fixture
def bus(dynamodb: Any) -> tuple[Any, Any, str]:
    """An EventBridge client whose default bus routes source "test" to an SQS queue."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="faults")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["test"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    return events, sqs, url


def put(client: Any, pk: str, **kwargs: Any) -> Any:
    return client.put_item(TableName=TABLE, Item={"pk": {"S": pk}}, **kwargs)


def stored(client: Any, pk: str) -> bool:
    return "Item" in client.get_item(TableName=TABLE, Key={"pk": {"S": pk}})


def delivered(sqs: Any, url: str) -> list[int]:
    """The ``i`` of every event the bus delivered to the queue."""
    seen = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return sorted(seen)
        for m in batch:
            seen.append(json.loads(m["Body"])["detail"]["i"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def entries(n: int) -> list[dict[str, str]]:
    return [{"Source": "test", "DetailType": "t", "Detail": json.dumps({"i": i})} for i in range(n)]


# --- DynamoDB ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        ("throttling", "ThrottlingException", 400),
        ("provisioned_throughput", "ProvisionedThroughputExceededException", 400),
        ("internal_error", "InternalServerError", 500),
    ],
)
def test_dynamodb_errors_are_the_clients_modeled_exceptions(ddb, kind, code, status):
    faulty = FaultyClient(ddb, rate=1.0, seed=1, kinds={kind})
    with pytest.raises(getattr(ddb.exceptions, code)) as info:
        put(faulty, "a")
    error = info.value.response
    assert error["Error"]["Code"] == code and info.value.operation_name == "PutItem"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert not stored(ddb, "a")  # nothing written
    assert faulty.injected == {kind: 1} and faulty.calls == 1


def test_transaction_conflict_cancels_the_transaction_with_one_conflicting_item(ddb):
    faulty = FaultyClient(ddb, rate=1.0, seed=4, kinds={"transaction_conflict"})
    items = [{"Put": {"TableName": TABLE, "Item": {"pk": {"S": f"t{i}"}}}} for i in range(3)]
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as info:
        faulty.transact_write_items(TransactItems=items)
    reasons = info.value.response["CancellationReasons"]
    assert sorted(r["Code"] for r in reasons) == ["None", "None", "TransactionConflict"]
    assert "TransactionConflict" in info.value.response["Error"]["Message"]
    assert not is_condition_failure(info.value)  # a conflict, not a failed condition
    assert not any(stored(ddb, f"t{i}") for i in range(3))
    put(faulty, "plain")  # only transactions can conflict
    assert stored(ddb, "plain") and faulty.injected == {"transaction_conflict": 1}


def test_timeout_before_writes_nothing(ddb):
    faulty = FaultyClient(ddb, rate=1.0, seed=1, kinds={"timeout_before"})
    with pytest.raises(ReadTimeoutError):
        put(faulty, "a")
    assert not stored(ddb, "a")


def test_timeout_after_write_really_wrote(ddb):
    faulty = FaultyClient(ddb, rate=1.0, seed=1, kinds={"timeout_after_write"})
    with pytest.raises(ReadTimeoutError):
        put(faulty, "a")
    assert stored(ddb, "a")
    # a write the table refused times out the same way: the caller cannot tell
    with pytest.raises(ReadTimeoutError):
        put(faulty, "a", ConditionExpression="attribute_not_exists(pk)")
    assert faulty.injected == {"timeout_after_write": 2}


def test_rate_zero_is_transparent(ddb):
    faulty = FaultyClient(ddb, rate=0.0, seed=1)
    put(faulty, "a", ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(faulty.exceptions.ConditionalCheckFailedException):
        put(faulty, "a", ConditionExpression="attribute_not_exists(pk)")
    got = faulty.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})
    assert got["Item"] == {"pk": {"S": "a"}}
    assert faulty.injected == {} and faulty.calls == 3


def test_the_clients_attributes_pass_through_and_only_chosen_operations_fail(ddb):
    faulty = FaultyClient(ddb, rate=1.0, seed=1, operations={"PutItem"})
    assert faulty.exceptions is ddb.exceptions and faulty.meta is ddb.meta
    assert not stored(faulty, "a")  # get_item is not faulted
    with pytest.raises((ClientError, ReadTimeoutError)):
        put(faulty, "a", ConditionExpression="attribute_not_exists(pk)")
    assert faulty.calls == 1


def outcomes(client: Any, n: int = 30) -> list[str]:
    seen = []
    for i in range(n):
        try:
            put(client, f"k{i}")
            seen.append("ok")
        except ClientError as exc:
            seen.append(exc.response["Error"]["Code"])
        except ReadTimeoutError:
            seen.append("timeout")
    return seen


def test_a_seed_reproduces_the_same_faults(ddb):
    first = FaultyClient(ddb, rate=0.5, seed=7)
    again = FaultyClient(ddb, rate=0.5, seed=7)
    other = FaultyClient(ddb, rate=0.5, seed=8)
    assert outcomes(first) == outcomes(again)
    assert first.sequence == again.sequence and first.injected == again.injected
    assert outcomes(other) != outcomes(first)
    assert "ok" in outcomes(first) and set(outcomes(first)) - {"ok"}


def test_unknown_kinds_and_operations_are_refused(ddb):
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultyClient(ddb, rate=0.1, seed=1, kinds={"throttling", "gremlins"})
    # one kinds list serves every client: another service's kinds are ignored
    faulty = FaultyClient(ddb, rate=1.0, seed=1, kinds={"partial_failure", "timeout_before"})
    assert faulty.kinds == ("timeout_before",)
    with pytest.raises(ValueError, match="no operations"):
        FaultyClient(ddb, rate=0.1, seed=1, operations={"put_events"})
    with pytest.raises(ValueError):
        FaultyClient(ddb, rate=1.5, seed=1)


# --- EventBridge --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"),
    [("throttling", "ThrottlingException"), ("internal_error", "InternalException")],
)
def test_put_events_errors_put_nothing(bus, kind, code):
    events, sqs, url = bus
    faulty = FaultyClient(events, rate=1.0, seed=1, kinds={kind})
    with pytest.raises(getattr(events.exceptions, code)) as info:
        faulty.put_events(Entries=entries(2))
    assert info.value.response["Error"]["Code"] == code
    assert info.value.operation_name == "PutEvents"
    assert delivered(sqs, url) == []


def test_put_events_timeout_after_write_really_put(bus):
    events, sqs, url = bus
    faulty = FaultyClient(events, rate=1.0, seed=1, kinds={"timeout_after_write"})
    with pytest.raises(ReadTimeoutError):
        faulty.put_events(Entries=entries(3))
    assert delivered(sqs, url) == [0, 1, 2]


def test_partial_failure_puts_only_the_entries_reported_put(bus):
    events, sqs, url = bus
    runs = []
    for seed in range(5):
        faulty = FaultyClient(events, rate=1.0, seed=seed, kinds={"partial_failure"})
        response = faulty.put_events(Entries=entries(6))
        failed = [i for i, e in enumerate(response["Entries"]) if "ErrorCode" in e]
        put_ok = [i for i, e in enumerate(response["Entries"]) if "EventId" in e]
        assert response["FailedEntryCount"] == len(failed) > 0
        assert sorted(failed + put_ok) == list(range(6))
        for i in failed:
            error = response["Entries"][i]
            assert error["ErrorCode"] in ("InternalFailure", "ThrottlingException")
            assert error["ErrorMessage"]
        assert delivered(sqs, url) == put_ok  # the failed ones were not put
        runs.append(failed)
    again = FaultyClient(events, rate=1.0, seed=0, kinds={"partial_failure"})
    response = again.put_events(Entries=entries(6))
    assert [i for i, e in enumerate(response["Entries"]) if "ErrorCode" in e] == runs[0]
    assert len({tuple(r) for r in runs}) > 1  # the seed chooses the entries


def test_partial_failure_of_a_single_entry_puts_nothing(bus):
    events, sqs, url = bus
    faulty = FaultyClient(events, rate=1.0, seed=3, kinds={"partial_failure"})
    response = faulty.put_events(Entries=entries(1))
    assert response["FailedEntryCount"] == 1 and "ErrorCode" in response["Entries"][0]
    assert delivered(sqs, url) == []


def test_partial_failure_applies_only_to_put_events(bus):
    events, _, _ = bus
    faulty = FaultyClient(events, rate=1.0, seed=1, kinds={"partial_failure"})
    assert faulty.list_rules()["Rules"]
    assert faulty.injected == {}


def test_put_events_rate_zero_is_transparent(bus):
    events, sqs, url = bus
    faulty = FaultyClient(events, rate=0.0, seed=1)
    response = faulty.put_events(Entries=entries(4))
    assert response["FailedEntryCount"] == 0 and len(response["Entries"]) == 4
    assert delivered(sqs, url) == [0, 1, 2, 3]
