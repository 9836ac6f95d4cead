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

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

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
    original = fast_moto._Read.items

    def spy(self: Any, table: Any) -> list[Any]:
        items = original(self, table)
        read.append(len(items))
        return items

    monkeypatch.setattr(fast_moto._Read, "items", spy)
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
    # each page read at most Limit + 1 items of its partition, not the partition nor the table
    assert read and max(read) <= 5


def test_other_key_conditions_and_a_lower_case_between(client: Any) -> None:
    everything = [i for i in scanned(client) if i["PK"]["S"] == "CONV#5"]
    conditions = {
        "SK between :lo AND :hi": lambda sk: "TURN#000000050" <= sk <= "TURN#000000120",
        "SK >= :lo": lambda sk: sk >= "TURN#000000050",
        "begins_with(SK, :p)": lambda sk: sk.startswith("TURN#0000001"),
    }
    values = {
        ":lo": {"S": "TURN#000000050"},
        ":hi": {"S": "TURN#000000120"},
        ":p": {"S": "TURN#0000001"},
    }
    for condition, holds in conditions.items():
        used = {k: v for k, v in values.items() if k in condition}
        for forward in (True, False):
            got = pages(
                client,
                KeyConditionExpression=f"PK = :pk AND {condition}",
                ExpressionAttributeValues={":pk": {"S": "CONV#5"}, **used},
                ScanIndexForward=forward,
                Limit=7,
            )
            want = sorted(
                (i for i in everything if holds(i["SK"]["S"])),
                key=lambda i: i["SK"]["S"],
                reverse=not forward,
            )
            assert got == want and got, condition


def test_a_start_key_that_is_gone_and_a_whole_partition_read(client: Any) -> None:
    everything = sorted(
        (i for i in scanned(client) if i["PK"]["S"] == "CONV#6"), key=lambda i: i["SK"]["S"]
    )
    start = {"PK": {"S": "CONV#6"}, "SK": {"S": everything[9]["SK"]["S"] + "x"}}  # no such item
    for forward, want in ((True, everything[10:15]), (False, everything[9::-1][:5])):
        page = client.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "CONV#6"}},
            ExclusiveStartKey=start,
            ScanIndexForward=forward,
            Limit=5,
        )
        assert page["Items"] == want and "LastEvaluatedKey" in page
    whole = client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "CONV#6"}},
    )
    assert whole["Items"] == everything and "LastEvaluatedKey" not in whole


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


def _scalars() -> Any:
    from hypothesis import strategies as st

    text, blobs = st.text(max_size=8), st.binary(max_size=8)
    number = st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,3})?", fullmatch=True)
    return st.one_of(
        st.builds(lambda v: {"S": v}, text),
        st.builds(lambda v: {"N": v}, number),
        st.builds(lambda v: {"B": v}, blobs),
        st.builds(lambda v: {"BOOL": v}, st.booleans()),
        st.just({"NULL": True}),
        st.builds(lambda v: {"SS": v}, st.lists(text, min_size=1, max_size=3, unique=True)),
        st.builds(lambda v: {"NS": v}, st.lists(number, min_size=1, max_size=3, unique=True)),
        st.builds(lambda v: {"BS": v}, st.lists(blobs, min_size=1, max_size=3, unique=True)),
    )


def _attribute_values() -> Any:
    from hypothesis import strategies as st

    return st.recursive(
        _scalars(),
        lambda inner: st.one_of(
            # (min_size=1: moto's generic path writes a map entry with an empty name into the
            # map itself, a bug the direct path does not have)
            st.builds(
                lambda m: {"M": m},
                st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=4),
            ),
            st.builds(lambda items: {"L": items}, st.lists(inner, max_size=4)),
        ),
        max_leaves=25,
    )


def _serialized(operation: str, result: dict[str, Any]) -> Any:
    import json

    from moto.core.responses import get_service_model
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class

    model = get_service_model("dynamodb")
    serializer = get_serializer_class("dynamodb", "json")(
        operation_model=model.operation_model(operation), value_picker=XFormedAttributePicker()
    )
    return json.loads(serializer.serialize(result)["body"])


def test_attribute_values_are_written_as_the_generic_serializer_writes_them() -> None:
    """Any item (every type, nested maps and lists): the same JSON either way."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from moto.core.serialize import BaseJSONSerializer

    fast_moto.install()
    items = st.dictionaries(st.text(min_size=1, max_size=6), _attribute_values(), max_size=5)

    @settings(max_examples=300, deadline=None)
    @given(items, st.lists(items, max_size=3))
    def same(item: dict[str, Any], page: list[dict[str, Any]]) -> None:
        results = {"GetItem": {"Item": item}, "Query": {"Items": page, "Count": len(page)}}
        fast = {op: _serialized(op, result) for op, result in results.items()}
        patched = BaseJSONSerializer._serialize
        BaseJSONSerializer._serialize = fast_moto.GENERIC["serialize"]  # type: ignore[method-assign]
        try:
            generic = {op: _serialized(op, result) for op, result in results.items()}
        finally:
            BaseJSONSerializer._serialize = patched  # type: ignore[method-assign]
        assert fast == generic

    same()


def test_unknown_members_take_the_generic_way() -> None:
    fast_moto.install()
    assert fast_moto.attribute_value(None, {"S": "a", "X": 1}) is None
    assert fast_moto.attribute_value(None, {"L": [{"S": "a"}, "raw"]}) is None
    assert fast_moto.attribute_value(None, {"M": {"k": None}}) is None


def test_update_expressions_are_validated_on_a_fresh_parse_not_a_deep_copy(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New and existing items, every clause: the answers DynamoDB gives, no deepcopy of the tree."""
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node

    copies: list[Any] = []
    real = validators.deepcopy
    monkeypatch.setattr(
        validators, "deepcopy", lambda x: (isinstance(x, Node) and copies.append(x)) or real(x)
    )
    key = {"PK": {"S": "U#1"}, "SK": {"S": "META"}}
    update = {
        "TableName": TABLE,
        "Key": key,
        "UpdateExpression": "SET #l = list_append(if_not_exists(#l, :empty), :one), "
        "#n = if_not_exists(#n, :zero) + :inc ADD #c :inc, #s :tags REMOVE #gone",
        "ExpressionAttributeNames": {
            "#l": "log",
            "#n": "n",
            "#c": "calls",
            "#s": "tags",
            "#gone": "x",
        },
        "ExpressionAttributeValues": {
            ":empty": {"L": []},
            ":one": {"L": [{"S": "a"}]},
            ":zero": {"N": "0"},
            ":inc": {"N": "2"},
            ":tags": {"SS": ["t"]},
        },
        "ReturnValues": "ALL_NEW",
    }
    first = client.update_item(**update)["Attributes"]  # a new item: validated twice by moto
    second = client.update_item(**update)["Attributes"]
    assert first == {
        **key,
        "log": {"L": [{"S": "a"}]},
        "n": {"N": "2"},
        "calls": {"N": "2"},
        "tags": {"SS": ["t"]},
    }
    assert second["log"] == {"L": [{"S": "a"}, {"S": "a"}]}
    assert second["n"] == second["calls"] == {"N": "4"}
    with pytest.raises(client.exceptions.ClientError, match="ValidationException"):
        client.update_item(**{**update, "ExpressionAttributeValues": {":zero": {"N": "0"}}})
    assert copies == []


def test_items_of_every_type_round_trip_through_the_server(client: Any) -> None:
    item = {
        "PK": {"S": "T#1"},
        "SK": {"S": "ALL"},
        "b": {"B": b"\x00\xffbytes"},
        "bs": {"BS": [b"a", b"\x01"]},
        "m": {"M": {"n": {"N": "1.5"}, "l": {"L": [{"NULL": True}, {"BOOL": False}]}}},
        "ns": {"NS": ["1", "2"]},
        "ss": {"SS": ["x"]},
    }
    client.put_item(TableName=TABLE, Item=item)
    got = client.get_item(TableName=TABLE, Key={"PK": item["PK"], "SK": item["SK"]})["Item"]
    assert {k: v for k, v in got.items() if k not in ("bs", "ns")} == {
        k: v for k, v in item.items() if k not in ("bs", "ns")
    }
    assert sorted(got["bs"]["BS"]) == sorted(item["bs"]["BS"])
    assert sorted(got["ns"]["NS"]) == ["1", "2"]
