"""Reads the outbox items a test's saves wrote (what the relay would publish)."""

from __future__ import annotations

import json
from typing import Any


class OutboxView:
    """The outbox of one table; ``actions`` are the saved entries' details, oldest save first."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table

    @property
    def items(self) -> list[dict[str, Any]]:
        kwargs = {
            "TableName": self.table,
            "FilterExpression": "begins_with(PK, :p)",
            "ExpressionAttributeValues": {":p": {"S": "OUTBOX#"}},
            "ConsistentRead": True,
        }
        items = []
        while True:
            page = self.dynamodb.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [e for item in self.items for e in json.loads(item["entries"]["S"])]

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [json.loads(e["Detail"]) for e in self.entries]
