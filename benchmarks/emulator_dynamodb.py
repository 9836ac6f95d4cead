"""DynamoDB cost per request on the local emulator: plain moto 5.2 (whose TransactWriteItems
copies every table it touches) against the emulator with its hooks (strict_dynamodb: one lock,
per-item undo), at a small and a large table. Servers run on a free 127.0.0.1 port; one client,
sequential requests. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/emulator_dynamodb.py [--sizes 100,10000] [--requests 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "localstack"))
import ephemeral

OPERATIONS = (
    "PutItem",
    "TransactWriteItems",
    "TransactWriteItems, condition fails",
    "PutItem, condition fails",
)


def client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}, read_timeout=300),
    )


def load(ddb: Any, table: str, size: int) -> None:
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    for start in range(0, size, 25):
        ddb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"item-{i}"}, "body": {"S": "x" * 100}}}}
                    for i in range(start, min(start + 25, size))
                ]
            }
        )


def per_request_ms(requests: int, call: Callable[[int], None]) -> float:
    """Median milliseconds per call, after two warm-up calls."""
    for i in range(2):
        call(-1 - i)
    times = []
    for i in range(requests):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(endpoint: str, table: str, size: int, requests: int) -> dict[str, float]:
    ddb = client(endpoint)
    load(ddb, table, size)
    counter = {"pk": {"S": "counter"}}
    increment = {
        "TableName": table,
        "Key": counter,
        "UpdateExpression": "SET n = n + :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }

    def put(i: int) -> None:
        ddb.put_item(TableName=table, Item={"pk": {"S": f"put-{i}"}})

    def transact(i: int) -> None:
        ddb.transact_write_items(
            TransactItems=[
                {"Update": increment},
                {"Put": {"TableName": table, "Item": {"pk": {"S": f"tx-{i}"}}}},
            ]
        )

    failing = {
        **increment,
        "ConditionExpression": "n < :zero",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
    }

    def transact_cancelled(i: int) -> None:
        try:
            ddb.transact_write_items(
                TransactItems=[
                    {"Update": failing},
                    {"Put": {"TableName": table, "Item": {"pk": {"S": f"never-{i}"}}}},
                ]
            )
        except ClientError as e:
            assert e.response["Error"]["Code"] == "TransactionCanceledException"
        else:
            raise AssertionError("the condition should have failed")

    def put_condition_fails(i: int) -> None:
        try:
            ddb.put_item(
                TableName=table, Item=counter, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ConditionalCheckFailedException"

    calls = (put, transact, transact_cancelled, put_condition_fails)
    return {
        name: per_request_ms(requests, call) for name, call in zip(OPERATIONS, calls, strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[tuple[str, int], dict[str, float]] = {}
    for label, hooks in (("plain moto", False), ("emulator", True)):
        with ephemeral.server(hooks=hooks) as endpoint:
            for size in sizes:
                results[label, size] = measure(endpoint, f"bench-{size}", size, args.requests)
    print(f"ms per request (median of {args.requests}; one client, sequential)")
    print(f"{'operation':38} {'items':>7} {'plain moto':>11} {'emulator':>9}")
    for op in OPERATIONS:
        for size in sizes:
            before, after = results["plain moto", size][op], results["emulator", size][op]
            print(f"{op:38} {size:>7} {before:>11.2f} {after:>9.2f}")


if __name__ == "__main__":
    main()
