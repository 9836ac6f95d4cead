"""Approvals on a sharded index: no partition takes every approval, and listings merge the
shards (and the legacy unsharded partition) in time order with exact pagination."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from agentocore import ddb
from agentocore.approvals import (
    LEGACY,
    ApprovalStore,
    InvalidPageToken,
    Status,
    shard_of,
    status_key,
)
from agentocore.memory.store import USER_INDEX

ACTION = {"action_type": "RefundOrder", "payload": {"order_id": "A-1", "amount": 5000}}


def clock() -> Any:
    """A clock a millisecond further on each call: distinct creation times."""
    ticks = itertools.count()
    return lambda: 1_767_225_600 + next(ticks) / 1000


@pytest.fixture
def store(dynamodb: Any, table: str) -> ApprovalStore:
    return ApprovalStore(table, client=dynamodb, shards=4, clock=clock())


def create(store: ApprovalStore, approval_id: str) -> None:
    store.create(
        approval_id,
        action_type="RefundOrder",
        action={**ACTION, "action_id": approval_id},
        requested_by="user-a",
        conversation_id="c1",
    )


def list_all(
    store: ApprovalStore, status: Status = "pending", limit: int = 3
) -> tuple[list[str], int]:
    """Every page of a listing; the ids in order and the number of pages."""
    ids: list[str] = []
    start = None
    for pages in itertools.count(1):
        page, start = store.list_by_status(status, limit=limit, start=start)
        assert len(page) <= limit
        ids += [a.approval_id for a in page]
        if start is None:
            return ids, pages
    raise AssertionError("unreachable")


def index_partitions(dynamodb: Any, table: str) -> Counter[str]:
    items = dynamodb.scan(TableName=table)["Items"]
    return Counter(i["user_id"]["S"] for i in items if i["PK"]["S"].startswith("APPROVAL#"))


def test_approvals_spread_over_the_shards(store: ApprovalStore, dynamodb: Any, table: str) -> None:
    ids = [f"act-{n}" for n in range(40)]
    for approval_id in ids:
        create(store, approval_id)
    partitions = index_partitions(dynamodb, table)
    assert set(partitions) == {f"APPROVALS#pending#{n}" for n in range(4)}
    for approval_id in ids:
        item = dynamodb.get_item(
            TableName=table, Key={"PK": ddb.s(f"APPROVAL#{approval_id}"), "SK": ddb.s("META")}
        )["Item"]
        assert item["user_id"]["S"] == status_key("pending", shard_of(approval_id, 4))


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 40, 100])
def test_pages_return_each_approval_once_in_creation_order(
    store: ApprovalStore, limit: int
) -> None:
    ids = [f"act-{n:02d}" for n in range(40)]
    for approval_id in ids:
        create(store, approval_id)
    listed, pages = list_all(store, limit=limit)
    assert listed == ids  # created one tick apart: creation order
    assert pages <= -(-len(ids) // limit) + 1  # at most one empty page at the end


def test_decided_approvals_leave_the_pending_listing_between_pages(
    store: ApprovalStore,
) -> None:
    ids = [f"act-{n:02d}" for n in range(12)]
    for approval_id in ids:
        create(store, approval_id)
    first, start = store.list_by_status("pending", limit=4)
    assert [a.approval_id for a in first] == ids[:4]
    decided = [ids[1], ids[5], ids[6], ids[11]]  # listed already, and not yet
    for approval_id in decided:
        store.decide(approval_id, "approve", decided_by="boss")
    rest: list[str] = []
    while start is not None:
        page, start = store.list_by_status("pending", limit=4, start=start)
        rest += [a.approval_id for a in page]
    assert rest == [i for i in ids[4:] if i not in decided]
    approved, _ = list_all(store, "approved")
    assert approved == decided  # in decision order
    assert list_all(store)[0] == [i for i in ids if i not in decided]


def test_the_legacy_unsharded_partition_is_listed_and_decided_out_of(
    store: ApprovalStore, dynamodb: Any, table: str
) -> None:
    """Items written before sharding keep ``APPROVALS#pending``: listed with the shards, in
    time order, and a decision moves them to a sharded partition."""
    ids = [f"act-{n:02d}" for n in range(10)]
    for approval_id in ids:
        create(store, approval_id)
    for approval_id in ids[::3]:  # as the unsharded code wrote them
        dynamodb.update_item(
            TableName=table,
            Key={"PK": ddb.s(f"APPROVAL#{approval_id}"), "SK": ddb.s("META")},
            UpdateExpression="SET user_id = :k",
            ExpressionAttributeValues={":k": ddb.s("APPROVALS#pending")},
        )
    assert index_partitions(dynamodb, table)["APPROVALS#pending"] == 4
    assert list_all(store, limit=2)[0] == ids
    store.decide(ids[0], "reject", decided_by="boss")
    assert index_partitions(dynamodb, table)["APPROVALS#pending"] == 3
    assert list_all(store, "rejected")[0] == [ids[0]]
    assert list_all(store, limit=4)[0] == ids[1:]


def test_more_shards_later_still_list_what_fewer_shards_wrote(dynamodb: Any, table: str) -> None:
    before = ApprovalStore(table, client=dynamodb, shards=2, clock=clock())
    ids = [f"act-{n:02d}" for n in range(8)]
    for approval_id in ids:
        create(before, approval_id)
    after = ApprovalStore(table, client=dynamodb, shards=8, clock=clock())
    assert list_all(after, limit=3)[0] == ids
    after.decide(ids[3], "approve", decided_by="boss")
    assert list_all(after, limit=3)[0] == ids[:3] + ids[4:]
    assert list_all(after, "approved")[0] == [ids[3]]


def test_an_empty_listing_has_no_next_page(store: ApprovalStore) -> None:
    assert store.list_by_status("pending") == ([], None)


def test_shards_are_queried_in_parallel_once_per_page(store: ApprovalStore, dynamodb: Any) -> None:
    create(store, "act-1")
    keys: list[str] = []
    original = dynamodb.query

    def query(**kwargs: Any) -> Any:
        assert kwargs["IndexName"] == USER_INDEX
        keys.append(kwargs["ExpressionAttributeValues"][":k"]["S"])
        return original(**kwargs)

    dynamodb.query = query
    try:
        store.list_by_status("pending")
    finally:
        del dynamodb.query
    assert sorted(keys) == sorted([*(f"APPROVALS#pending#{n}" for n in range(4)),
                                   "APPROVALS#pending"])  # fmt: skip


@pytest.mark.parametrize(
    "token",
    [
        {"p": {}},
        {"v": 2, "p": {}},
        {"v": 1, "p": []},
        {"v": 1, "p": {"9": None}},  # no such shard
        {"v": 1, "p": {"0": ["2026-01-01T00:00:00.000Z"]}},
        {"v": 1, "p": {"0": [1, "act-1"]}},
        {"v": 1, "p": {LEGACY: "x"}},
    ],
)
def test_a_token_no_listing_made_is_refused(store: ApprovalStore, token: Any) -> None:
    with pytest.raises(InvalidPageToken):
        store.list_by_status("pending", start=token)


def test_shards_must_be_positive(table: str, dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="shards"):
        ApprovalStore(table, client=dynamodb, shards=0)
