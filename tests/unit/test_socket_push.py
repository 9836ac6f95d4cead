"""The push side of the WebSocket API: where the management API is (SSM, an emulator), what a
connection's items look like, expiry."""

from __future__ import annotations

import boto3

from agentocore.stream.push import (
    CONNECTION_TTL_S,
    LazyManagement,
    SocketConnections,
    emulated_endpoint,
)

AWS_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/live"


def test_the_endpoint_is_the_emulator_s_path_when_one_is_configured():
    emulator = "http://127.0.0.1:4566"
    assert emulated_endpoint(AWS_URL, emulator) == f"{emulator}/_aws/execute-api/abc123/live"
    assert emulated_endpoint(AWS_URL, "") == AWS_URL  # on AWS
    assert emulated_endpoint("https://example.com/x", emulator) == "https://example.com/x"


def test_the_endpoint_comes_from_its_parameter_once_it_can_be_read(dynamodb, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    ssm = boto3.client("ssm", region_name="us-east-1")
    management = LazyManagement(parameter="/agentocore-test/ws-endpoint")
    assert management() is None  # not there yet: no push, tried again next time
    ssm.put_parameter(Name="/agentocore-test/ws-endpoint", Value=AWS_URL, Type="String")
    api = management()
    assert api is not None and api.endpoint == AWS_URL
    assert management() is api  # read once per environment
    assert LazyManagement()() is None  # nothing configured: nothing pushed


def test_nothing_a_connection_writes_stays_for_good(table, dynamodb):
    clock = [1_795_608_000.0]
    connections = SocketConnections(table, client=dynamodb, clock=lambda: clock[0])
    # a subscription whose $connect item is missing (its write failed): the META the
    # subscription adds still expires
    connections.subscribe("conn-1", "alice", "c1")
    items = dynamodb.scan(TableName=table)["Items"]
    assert {(i["PK"]["S"], i["SK"]["S"]) for i in items} == {
        ("WS#conn-1", "META"),
        ("CONV#c1", "WS#conn-1"),
    }
    assert all(int(i["ttl"]["N"]) == int(clock[0]) + CONNECTION_TTL_S for i in items)
    assert connections.listeners("CONV#c1") == ["conn-1"]
    clock[0] += CONNECTION_TTL_S  # API Gateway closed it; DynamoDB's TTL deletes lazily
    assert connections.listeners("CONV#c1") == []
