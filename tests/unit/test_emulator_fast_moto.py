"""``localstack/fast_moto.py``: Queries read their partition only, and answer exactly what a
full-table Query answers (order, pages, filters, indexes); Scan is unchanged."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import fast_moto

from agentocore.memory.schema import create_table

TABLE = "fast"


@pytest.fixture
def client() -> Any:
    fast_moto.install()
    with mock_aws():
        c = boto3.client("dynamodb", region_name="us-east-1")
        create_table(c, TABLE)
        rng = random.Random(7)
        for p in range(12):
            for n in rng.sample(range(200), 25):
                item = {"PK": {"S": f"CONV#{p}"}, "SK": {"S": f"TURN#{n:09d}"}, "n": {"N": str(n)}}
                if n % 3 == 0:
                    item["user_id"] = {"S": f"u{p % 3}"}
                    item["updated_at"] = {"S": f"2026-11-{n % 28 + 1:02d}T{n:05d}"}
                c.put_item(TableName=TABLE, Item=item)
        yield c


def pages(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a paginated Query (or Scan with ``scan=True``)."""
    operation = client.scan if kwargs.pop("scan", False) else client.query
    items: list[dict[str, Any]] = []
    while True:
        page = operation(TableName=TABLE, **kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scanned(client: Any) -> list[dict[str, Any]]:
    return pages(client, scan=True, Limit=37)


def test_a_base_table_query_answers_its_partition_in_order_by_pages(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = scanned(client)
    read: list[int] = []
    original = fast_moto._query_items
    monkeypatch.setattr(
        fast_moto, "_query_items", lambda t, h: read.append(len(original(t, h))) or original(t, h)
    )
    for forward in (True, False):
        got = pages(
            client,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": "CONV#4"},
                ":lo": {"S": "TURN#000000020"},
                ":hi": {"S": "TURN#000000150"},
            },
            ScanIndexForward=forward,
            Limit=4,
        )
        want = sorted(
            (i for i in everything if i["PK"]["S"] == "CONV#4"),
            key=lambda i: i["SK"]["S"],
            reverse=not forward,
        )
        want = [i for i in want if "TURN#000000020" <= i["SK"]["S"] <= "TURN#000000150"]
        assert got == want and got
    assert read and set(read) == {25}  # each page read the partition, not the 300 items


def test_a_filtered_query_and_an_empty_partition(client: Any) -> None:
    got = pages(
        client,
        KeyConditionExpression="PK = :pk",
        FilterExpression="n > :n",
        ExpressionAttributeValues={":pk": {"S": "CONV#2"}, ":n": {"N": "100"}},
        Limit=3,
    )
    want = [i for i in scanned(client) if i["PK"]["S"] == "CONV#2" and int(i["n"]["N"]) > 100]
    assert got == sorted(want, key=lambda i: i["SK"]["S"]) and got
    assert (
        pages(
            client,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "CONV#none"}},
        )
        == []
    )


def test_an_index_query_reads_across_partitions_in_index_order(client: Any) -> None:
    got = pages(
        client,
        IndexName="UserIdIndex",
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": "u1"}},
        ScanIndexForward=False,
        Limit=5,
    )
    want = [i for i in scanned(client) if i.get("user_id") == {"S": "u1"}]
    assert len({i["PK"]["S"] for i in got}) == 4  # CONV#1, #4, #7, #10
    assert sorted(map(str, got)) == sorted(map(str, want))
    stamps = [i["updated_at"]["S"] for i in got]
    assert stamps == sorted(stamps, reverse=True)


def test_scan_still_pages_through_every_item_once(client: Any) -> None:
    items = scanned(client)
    keys = [(i["PK"]["S"], i["SK"]["S"]) for i in items]
    assert len(keys) == len(set(keys)) == 12 * 25
