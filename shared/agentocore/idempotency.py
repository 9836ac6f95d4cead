"""Powertools idempotency records in the single table, one partition per record.

Powertools' DynamoDB layer with a sort key puts every record of a function under one static
partition key (``idempotency#<function>``): one partition takes all of that function's writes,
so its rate grows with total traffic (a hot key). Here each record is its own partition:

``PK = idempotency#<name>#<hash>`` (``<hash>`` is the digest Powertools computes for the
record's key), ``SK`` = Powertools' full idempotency key (``<Lambda function>.<wrapped
function>#<hash>``), so two deployed functions sharing a ``name`` (agent_executor and its
priority twin) keep separate records, side by side in one small partition.

IAM scopes a function to its own records with ``dynamodb:LeadingKeys`` patterns
``idempotency#<name>#*`` (and ``idempotency#<name>-*#*`` for its scoped names).

A failed call's record is expired (UpdateItem), never deleted: no function's role has
``dynamodb:DeleteItem``. The next call with the key takes it over (Powertools' put condition
accepts an expired record) and TTL removes it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

PREFIX = "idempotency#"


def record_pk(name: str, idempotency_key: str) -> str:
    """The partition key of the record Powertools keys ``idempotency_key``
    (``<prefix>#<hash>``): the hash part; a key without one is hashed whole."""
    _, sep, digest = idempotency_key.rpartition("#")
    if not sep or not digest:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"{PREFIX}{name}#{digest}"


class RecordPerPartitionLayer(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB persistence with ``PK = idempotency#<name>#<hash>``, ``SK`` = the
    idempotency key, expiry in ``ttl``; failures expire the record instead of deleting it."""

    def __init__(self, *, table_name: str, name: str, **kwargs: Any) -> None:
        super().__init__(
            table_name=table_name,
            key_attr="PK",
            sort_key_attr="SK",
            static_pk_value=f"{PREFIX}{name}",  # unused: every key names its own partition
            expiry_attr="ttl",
            **kwargs,
        )
        self.name = name

    def _get_key(self, idempotency_key: str) -> dict[str, Any]:
        return {"PK": {"S": record_pk(self.name, idempotency_key)}, "SK": {"S": idempotency_key}}

    def _item_to_data_record(self, item: dict[str, Any]) -> DataRecord:
        # Powertools reads the record's key from the partition key attribute: here it is SK
        return super()._item_to_data_record({**item, "PK": item["SK"]})

    def _delete_record(self, data_record: DataRecord) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key=self._get_key(data_record.idempotency_key),
            UpdateExpression="SET #expiry = :gone",
            ExpressionAttributeNames={"#expiry": self.expiry_attr},
            ExpressionAttributeValues={":gone": {"N": "1"}},
        )
