"""Linearizable DynamoDB for moto's threaded server (written against moto 5.2.x).

moto 5.2's TransactWriteItems deep-copies every table it touches before it starts and, when one
condition fails, puts that copy back: a write another server thread committed in between is
erased, and every transaction costs O(table size). Here:

- every DynamoDB and DynamoDB Streams request runs under one lock (parsing, the backend
  operation and the serialized response), so operations are atomic and reads never see a
  transaction half applied;
- TransactWriteItems keeps moto's checks and error reporting but rolls back with a per-item undo
  log (the previous item of each key it wrote, and the stream records it added): O(items in the
  transaction), no table copy;
- stream records stay in the shard and reach Lambda event source mappings from background
  threads (``strict_streams``: a position per mapping, filters, batches, retries, on-failure
  destinations), which read under the lock and invoke after releasing it, so a function that
  calls DynamoDB back cannot deadlock (and, as on AWS, the write does not wait for the function).

Installed by ``emulator.apply_hooks()`` after its moto version check; installs ``strict_streams``.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

LOCK = threading.RLock()
# Called (under LOCK) with the shard after each stream record is added: strict_streams wakes the
# shard's consumers.
STREAM_LISTENERS: list[Callable[[Any], None]] = []

# (table, hash key, range key, the item before the write or None)
Undo = tuple[Any, Any, Any, Any]


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    return locked


def _restore(undo: list[Undo], stream_marks: dict[int, tuple[Any, int]]) -> None:
    """Put back each written key's previous item (newest first) and drop the stream records
    the transaction added."""
    for table, hash_key, range_key, previous in reversed(undo):
        if range_key is None:
            if previous is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = previous
        elif previous is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = previous
    for shard, length in stream_marks.values():
        del shard.items[length:]


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems with a per-item undo log instead of a copy of whole tables."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo: list[Undo] = []
    stream_marks: dict[int, tuple[Any, int]] = {}
    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []  # [(Code, Message, Item), ...]
    with LOCK:
        try:
            for item in transact_items:
                original_item: dict[str, Any] | None = None
                if len(item) > 1:
                    raise TransactWriteSingleOpException
                try:
                    op_type, op = next(iter(item.items()))
                    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                        raise ValueError("Unsupported transaction operation")
                    table_name = op["TableName"]
                    condition = op.get("ConditionExpression")
                    names = op.get("ExpressionAttributeNames")
                    values = op.get("ExpressionAttributeValues")
                    table = self.get_table(table_name)
                    if op_type == "Put":
                        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                        if table.range_key_attr is not None:
                            key[table.range_key_attr] = op["Item"][table.range_key_attr]
                    else:
                        key = op["Key"]
                    unique = (str(table_name), str(dict(sorted(key.items()))))
                    if unique in target_items:
                        raise MultipleTransactionsException()
                    target_items.add(unique)

                    current = self.get_item(table_name, key)
                    if condition is not None:
                        condition_op = get_filter_expression(condition, names, values)
                        if not condition_op.expr(current):
                            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and (
                                current
                            ):
                                original_item = current.to_json()["Attributes"]
                            raise ConditionalCheckFailed(item=original_item)
                    if op_type == "ConditionCheck":
                        errors.append((None, None, None))
                        continue

                    hash_key, range_key = self.get_keys_value(table, key)
                    # Update changes the stored item in place: keep a copy of that one item.
                    previous = copy.deepcopy(current) if op_type == "Update" else current
                    undo.append((table, hash_key, range_key, previous))
                    shard = table.stream_shard
                    if shard is not None and id(shard) not in stream_marks:
                        stream_marks[id(shard)] = (shard, len(shard.items))
                    if op_type == "Put":
                        self.put_item(
                            table_name,
                            op["Item"],
                            condition_expression=condition,
                            expression_attribute_names=names,
                            expression_attribute_values=values,
                        )
                    elif op_type == "Delete":
                        self.delete_item(
                            table_name,
                            key,
                            condition_expression=condition,
                            expression_attribute_names=names,
                            expression_attribute_values=values,
                        )
                    else:
                        self.update_item(
                            table_name,
                            key,
                            update_expression=op["UpdateExpression"],
                            condition_expression=condition,
                            expression_attribute_names=names,
                            expression_attribute_values=values,
                        )
                    errors.append((None, None, None))
                except (MultipleTransactionsException, MockValidationException):
                    raise
                except ConditionalCheckFailed as e:
                    errors.append(("ConditionalCheckFailed", str(e.message), original_item))
                except Exception as e:  # moto reports any other failure as a reason, too
                    errors.append((type(e).__name__, str(e), original_item))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)
        except BaseException:
            _restore(undo, stream_marks)
            raise


def stream_add(self: Any, old: Any, new: Any) -> None:
    """StreamShard.add: record the change; the shard's mappings read it later, off the lock."""
    from moto.dynamodb.models.table import StreamRecord

    view_type = self.table.stream_specification["StreamViewType"]
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    seq = len(self.items) + self.starting_sequence_number
    self.items.append(StreamRecord(self.table, view_type, event_name, old, new, seq))
    for listener in STREAM_LISTENERS:
        listener(self)


def install() -> None:
    """Patch moto (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    if getattr(DynamoDBBackend, "_agentocore_strict", False):
        return
    DynamoHandler.call_action = _locked(DynamoHandler.call_action)  # type: ignore[method-assign]
    DynamoDBStreamsHandler.call_action = _locked(  # type: ignore[method-assign]
        DynamoDBStreamsHandler.call_action
    )
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    StreamShard.add = stream_add  # type: ignore[method-assign]
    DynamoDBBackend._agentocore_strict = True  # type: ignore[attr-defined]
    import strict_streams  # the shard's records -> its Lambda mappings, as AWS delivers them

    strict_streams.install()
