"""dlq_handler's service: every dead-lettered message becomes a failure item and an SNS alert.

Understands the four shapes that reach AgentoCore's DLQs: an EventBridge target DLQ message
(body = the event; ERROR_CODE / ERROR_MESSAGE / RETRY_ATTEMPTS attributes), a Lambda async DLQ
message (body = the event; ErrorCode / ErrorMessage attributes), a Lambda on-failure
destination record (``requestContext`` / ``requestPayload`` / ``responsePayload``) and a stream
event source mapping's on-failure record (``requestContext`` / ``responseContext`` /
``DDBStreamBatchInfo``: where the batch was in the stream, not its records; the outbox relay's).
Anything else, including a body that is not JSON, is recorded as it came: never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentocore import ddb
from agentocore.memory import codec
from agentocore.workers.notify import SnsNotifier

MAX_ORIGINAL_BYTES = 300_000
#: Queues whose name ends so receive events no rule routed (the bus's catch-all rule): they
#: carry no error attributes, the queue itself is the error.
UNROUTED_QUEUE_SUFFIX = "-unrouted-dlq"
UNROUTED_ERROR = "unrouted: no rule on the bus handles this event (an undeclared action type?)"
STREAM_BATCH = "DDBStreamBatchInfo"
STREAM_DETAIL_TYPE = "DynamoDBStreamBatchFailed"


@dataclass(frozen=True)
class Failure:
    """What went wrong with one dead-lettered message."""

    event_id: str
    message_id: str
    error: str
    attempts: int
    original: Any
    detail_type: str | None = None
    source: str | None = None
    queue: str | None = None
    origin: str | None = None
    malformed: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _attr(attributes: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, Mapping):
            value = value.get("stringValue") or value.get("StringValue")
        if value:
            return str(value)
    return None


def describe(record: Mapping[str, Any]) -> Failure:
    """Turn one SQS record (the Lambda event shape) into a :class:`Failure`."""
    message_id = str(record.get("messageId", "unknown"))
    body = record.get("body", "")
    attrs = record.get("messageAttributes") or {}
    receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    queue = str(record.get("eventSourceARN", "")).rsplit(":", 1)[-1] or None
    try:
        payload = json.loads(body)
    except (TypeError, json.JSONDecodeError) as exc:
        return Failure(
            event_id=message_id,
            message_id=message_id,
            error=f"malformed DLQ message (not JSON: {exc})",
            attempts=receive_count,
            original=body if isinstance(body, str) else repr(body),
            queue=queue,
            malformed=True,
        )
    if isinstance(payload, dict) and isinstance(payload.get(STREAM_BATCH), dict):
        return _stream_failure(payload, message_id, queue, receive_count)
    if isinstance(payload, dict) and "requestContext" in payload and "requestPayload" in payload:
        ctx = payload.get("requestContext") or {}
        response = payload.get("responsePayload") or {}
        event = payload.get("requestPayload")
        error = (
            f"{response.get('errorType', 'Error')}: {response.get('errorMessage')}"
            if isinstance(response, dict) and response.get("errorMessage")
            else str(ctx.get("condition", "unknown failure"))
        )
        attempts = int(ctx.get("approximateInvokeCount", receive_count))
        origin = ctx.get("functionArn")
    else:
        event = payload
        code = _attr(attrs, "ERROR_CODE", "ErrorCode")
        message = _attr(attrs, "ERROR_MESSAGE", "ErrorMessage")
        unrouted = bool(queue and queue.endswith(UNROUTED_QUEUE_SUFFIX))
        error = ": ".join(p for p in (code, message) if p) or (
            UNROUTED_ERROR if unrouted else "unknown failure (no error attributes)"
        )
        retries = _attr(attrs, "RETRY_ATTEMPTS")
        attempts = int(retries) + 1 if retries and retries.isdigit() else receive_count
        origin = _attr(attrs, "TARGET_ARN", "RULE_ARN", "RequestID")
    fields: dict[str, Any] = event if isinstance(event, dict) else {}
    return Failure(
        event_id=str(fields.get("id") or message_id),
        message_id=message_id,
        error=error,
        attempts=attempts,
        original=event,
        detail_type=fields.get("detail-type"),
        source=fields.get("source"),
        queue=queue,
        origin=str(origin) if origin else None,
    )


def _stream_failure(
    payload: dict[str, Any], message_id: str, queue: str | None, receive_count: int
) -> Failure:
    """A stream mapping gave up on a batch (retries exhausted or records too old): AWS sends
    the batch's position, not its records. For the table's stream these are outbox items left
    unpublished: they are republished from the pending index once the cause is fixed."""
    batch = payload[STREAM_BATCH]
    ctx = payload.get("requestContext") or {}
    response = payload.get("responseContext") or {}
    shard = str(batch.get("shardId", "unknown-shard"))
    first, last = batch.get("startSequenceNumber"), batch.get("endSequenceNumber")
    condition = str(ctx.get("condition", "unknown condition"))
    function_error = response.get("functionError")
    error = (
        f"stream batch abandoned ({condition}"
        + (f", function error {function_error}" if function_error else "")
        + f"): {batch.get('batchSize', '?')} record(s) of {shard}, sequence numbers "
        f"{first}..{last} of {batch.get('streamArn', 'unknown stream')}. Outbox items among "
        "them stay unpublished: republish them (outbox_relay with "
        '{"republish_older_than_s": N}) once the cause is fixed.'
    )
    return Failure(
        event_id=f"stream:{shard}:{first}",  # a redelivered record is recorded once
        message_id=message_id,
        error=error,
        attempts=int(ctx.get("approximateInvokeCount", receive_count)),
        original=payload,
        detail_type=STREAM_DETAIL_TYPE,
        source="aws:dynamodb",
        queue=queue,
        origin=str(ctx["functionArn"]) if ctx.get("functionArn") else None,
    )


class FailureRecorder(ddb.TableStore):
    """Writes ``FAILURE#<date>`` / ``<event id>`` items and alerts once per failure."""

    def __init__(self, table_name: str, notifier: SnsNotifier, **kwargs: Any) -> None:
        kwargs.setdefault("ttl_days", 90)
        super().__init__(table_name, **kwargs)
        self.notifier = notifier

    def record(self, record: Mapping[str, Any]) -> Failure:
        """Record and alert; raises if either fails (the message then stays in the DLQ)."""
        failure = describe(record)
        now = self._clock()
        key = {"PK": ddb.s(f"FAILURE#{ddb.iso(now)[:10]}"), "SK": ddb.s(failure.event_id)}
        original = json.dumps(failure.original, default=str)
        if len(original.encode()) > MAX_ORIGINAL_BYTES:
            original = codec.fit([{"text": original}], MAX_ORIGINAL_BYTES)[0]["text"]
        item = {
            **key,
            "event_id": ddb.s(failure.event_id),
            "message_id": ddb.s(failure.message_id),
            "error": ddb.s(failure.error),
            "attempts": ddb.n(failure.attempts),
            "original": ddb.s(original),
            "malformed": {"BOOL": failure.malformed},
            "recorded_at": ddb.s(ddb.iso(now)),
            "alerted": {"BOOL": False},
            "ttl": self.expires(now),
        }
        for name in ("detail_type", "source", "queue", "origin"):
            value = getattr(failure, name)
            if value:
                item[name] = ddb.s(value)
        try:
            self.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(PK)"
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            existing = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
            if existing.get("Item", {}).get("alerted", {}).get("BOOL"):
                return failure  # a redelivery of a message already recorded and alerted
        self.notifier.publish(
            f"AgentoCore failure: {failure.detail_type or 'unparseable message'}",
            {
                "failure_key": {"PK": key["PK"]["S"], "SK": key["SK"]["S"]},
                "event_id": failure.event_id,
                "detail_type": failure.detail_type,
                "error": failure.error,
                "attempts": failure.attempts,
                "queue": failure.queue,
                "malformed": failure.malformed,
            },
            event="AgentoCoreFailure",
        )
        self.client.update_item(
            TableName=self.table_name,
            Key=key,
            UpdateExpression="SET alerted = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
        return failure
