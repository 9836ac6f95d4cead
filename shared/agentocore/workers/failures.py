"""dlq_handler's service: every dead-lettered message becomes a failure item and an SNS alert.

Understands the four shapes that reach AgentoCore's DLQs: an EventBridge target DLQ message
(body = the event; ERROR_CODE / ERROR_MESSAGE / RETRY_ATTEMPTS attributes), a Lambda async DLQ
message (body = the event; ErrorCode / ErrorMessage attributes), a Lambda on-failure
destination record (``requestContext`` / ``requestPayload`` / ``responsePayload``) and a stream
event source mapping's on-failure record (``requestContext`` / ``responseContext`` /
``DDBStreamBatchInfo``: where the batch was in the stream, not its records; the outbox relay's).
Anything else, including a body that is not JSON, is recorded as it came: never dropped. A
message whose fields have unexpected types (a ``detail-type`` that is a number, a body that is
JSON but not an object, attributes that are not text) is recorded too, ``malformed``, its fields
as text; oversized ones are cut to fit DynamoDB's item limit (``truncated``). No message can
fail its ``put_item``, so none cycles in its queue until retention drops it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentocore import ddb
from agentocore.workers.notify import SUBJECT_LIMIT, SnsNotifier

#: Byte budgets of a failure item's strings (UTF-8), well inside DynamoDB's 400 KB item limit.
MAX_ORIGINAL_BYTES = 300_000
MAX_ERROR_BYTES = 16_000
MAX_FIELD_BYTES = 1_024
#: The event id is the item's sort key (DynamoDB: at most 1,024 bytes).
MAX_KEY_BYTES = 512
MAX_ATTEMPTS = 10**9
#: Queues whose name ends so receive events no rule routed (the bus's catch-all rule): they
#: carry no error attributes, the queue itself is the error.
UNROUTED_QUEUE_SUFFIX = "-unrouted-dlq"
UNROUTED_ERROR = "unrouted: no rule on the bus handles this event (an undeclared action type?)"
STREAM_BATCH = "DDBStreamBatchInfo"
STREAM_DETAIL_TYPE = "DynamoDBStreamBatchFailed"
#: EventBridge envelope fields and the type each must have.
_ENVELOPE: dict[str, type] = {"detail-type": str, "source": str, "id": str, "detail": dict}


@dataclass(frozen=True)
class Failure:
    """What went wrong with one dead-lettered message. ``problems``: how the message departs
    from the shapes described above (then ``malformed``)."""

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
    problems: tuple[str, ...] = ()


def clip(value: Any, max_bytes: int) -> str:
    """``value`` as valid UTF-8 text of at most ``max_bytes`` bytes (JSON for non-strings; lone
    surrogates replaced), cut with a visible marker when longer."""
    text: str = value if isinstance(value, str) else _json(value)
    raw = text.encode("utf-8", "replace")
    if len(raw) <= max_bytes:
        return raw.decode("utf-8")
    marker = f" [... truncated by AgentoCore: {len(raw)} bytes]"
    return raw[: max(0, max_bytes - len(marker))].decode("utf-8", "ignore") + marker


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _key(value: str) -> str:
    """A sort key: ``value`` if it is short, valid text, else its prefix and a digest of all of
    it (two long ids sharing a prefix stay two keys, a redelivered one stays one)."""
    raw = value.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_KEY_BYTES and clip(value, MAX_KEY_BYTES) == value:
        return value
    head = clip(value[:MAX_KEY_BYTES], MAX_KEY_BYTES).encode()[: MAX_KEY_BYTES - 80]
    return f"{head.decode('utf-8', 'ignore')}#sha256:{hashlib.sha256(raw).hexdigest()}"


def _count(value: Any, default: int) -> int:
    """A non-negative attempt count from whatever ``value`` is (``default`` if none)."""
    if isinstance(value, bool) or value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return min(max(number, 0), MAX_ATTEMPTS)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _attr(attributes: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, Mapping):
            binary = value.get("binaryValue") or value.get("BinaryValue")
            value = value.get("stringValue") or value.get("StringValue") or _decoded(binary)
        if value:
            return clip(value, MAX_ERROR_BYTES)
    return None


def _decoded(binary: Any) -> str | None:
    """A binary attribute's text (base64 of UTF-8; anything else as it came)."""
    if not binary:
        return None
    if isinstance(binary, str):
        try:
            return base64.b64decode(binary, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return binary
    return clip(binary, MAX_ERROR_BYTES)


def _message_id(record: Mapping[str, Any], body: Any) -> str:
    message_id = record.get("messageId")
    if isinstance(message_id, str) and message_id:
        return _key(message_id)
    return "body-sha256:" + hashlib.sha256(_json(body).encode("utf-8", "replace")).hexdigest()


def describe(record: Mapping[str, Any]) -> Failure:
    """Turn one SQS record (the Lambda event shape) into a :class:`Failure`; never raises."""
    record = _mapping(record)
    body = record.get("body", "")
    message_id = _message_id(record, body)
    try:
        return _describe(record, body, message_id)
    except Exception as exc:  # a dead letter is recorded whatever it is
        return Failure(
            event_id=message_id,
            message_id=message_id,
            error=f"malformed DLQ message (could not be read: {type(exc).__name__}: {exc})",
            attempts=1,
            original=body,
            malformed=True,
            problems=(f"could not be read: {type(exc).__name__}",),
        )


def _describe(record: Mapping[str, Any], body: Any, message_id: str) -> Failure:
    attrs = _mapping(record.get("messageAttributes"))
    receive_count = _count(_mapping(record.get("attributes")).get("ApproximateReceiveCount"), 1)
    arn = record.get("eventSourceARN")
    queue = (arn.rsplit(":", 1)[-1] if isinstance(arn, str) else "") or None
    try:
        payload = json.loads(body)
    except (TypeError, ValueError, RecursionError) as exc:
        return Failure(
            event_id=message_id,
            message_id=message_id,
            error=f"malformed DLQ message (not JSON: {type(exc).__name__}: {exc})",
            attempts=receive_count,
            original=body,
            queue=queue,
            malformed=True,
            problems=("not JSON",),
        )
    if isinstance(payload, dict) and isinstance(payload.get(STREAM_BATCH), dict):
        return _stream_failure(payload, message_id, queue, receive_count)
    problems: list[str] = []
    if not isinstance(payload, dict):
        problems.append(f"the body is JSON but not an object ({type(payload).__name__})")
    if isinstance(payload, dict) and "requestContext" in payload and "requestPayload" in payload:
        ctx, response = payload.get("requestContext"), payload.get("responsePayload")
        if not isinstance(ctx, dict):
            problems.append(f"requestContext is {type(ctx).__name__}, not an object")
        ctx = _mapping(ctx)
        event = payload.get("requestPayload")
        error = (
            f"{response.get('errorType', 'Error')}: {response.get('errorMessage')}"
            if isinstance(response, dict) and response.get("errorMessage")
            else str(ctx.get("condition", "unknown failure"))
        )
        attempts = _count(ctx.get("approximateInvokeCount"), receive_count)
        origin = ctx.get("functionArn")
    else:
        event = payload
        code = _attr(attrs, "ERROR_CODE", "ErrorCode")
        message = _attr(attrs, "ERROR_MESSAGE", "ErrorMessage")
        unrouted = bool(queue and queue.endswith(UNROUTED_QUEUE_SUFFIX))
        error = ": ".join(p for p in (code, message) if p) or (
            UNROUTED_ERROR if unrouted else "unknown failure (no error attributes)"
        )
        retries = _count(_attr(attrs, "RETRY_ATTEMPTS"), -1)
        attempts = min(retries + 1, MAX_ATTEMPTS) if retries >= 0 else receive_count
        origin = _attr(attrs, "TARGET_ARN", "RULE_ARN", "RequestID")
    fields = _mapping(event)
    if "detail-type" in fields:  # an EventBridge event: its envelope's fields are typed
        problems += [
            f"{name} is {type(fields[name]).__name__}, not {kind.__name__}"
            for name, kind in _ENVELOPE.items()
            if name in fields and not isinstance(fields[name], kind)
        ]
    event_id = fields.get("id")
    if problems:
        error = f"{error}; malformed event: {'; '.join(problems)}"
    return Failure(
        event_id=_key(event_id) if isinstance(event_id, str) and event_id else message_id,
        message_id=message_id,
        error=error,
        attempts=attempts,
        original=event,
        detail_type=_text(fields.get("detail-type"), "detail-type" in fields),
        source=_text(fields.get("source"), "source" in fields),
        queue=queue,
        origin=_text(origin),
        malformed=bool(problems),
        problems=tuple(problems),
    )


def _text(value: Any, present: bool = False) -> str | None:
    """An optional field as text (non-strings as JSON): None if empty or absent (a ``present``
    null is ``"null"``)."""
    if value == "" or (value is None and not present):
        return None
    return clip(value, MAX_FIELD_BYTES)


def _stream_failure(
    payload: dict[str, Any], message_id: str, queue: str | None, receive_count: int
) -> Failure:
    """A stream mapping gave up on a batch (retries exhausted or records too old): AWS sends
    the batch's position, not its records. For the table's stream these are outbox items left
    unpublished: they are republished from the pending index once the cause is fixed."""
    batch = payload[STREAM_BATCH]
    ctx = _mapping(payload.get("requestContext"))
    response = _mapping(payload.get("responseContext"))
    shard = clip(batch.get("shardId", "unknown-shard"), MAX_FIELD_BYTES)
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
        event_id=_key(f"stream:{shard}:{first}"),  # a redelivered record is recorded once
        message_id=message_id,
        error=error,
        attempts=_count(ctx.get("approximateInvokeCount"), receive_count),
        original=payload,
        detail_type=STREAM_DETAIL_TYPE,
        source="aws:dynamodb",
        queue=queue,
        origin=_text(ctx.get("functionArn")),
    )


def subject(detail_type: str | None) -> str:
    """The alert's SNS subject: printable ASCII, under SNS's limit."""
    text = f"AgentoCore failure: {detail_type or 'unparseable message'}"
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:SUBJECT_LIMIT]


class FailureRecorder(ddb.TableStore):
    """Writes ``FAILURE#<date>`` / ``<event id>`` items and alerts once per failure."""

    def __init__(self, table_name: str, notifier: SnsNotifier, **kwargs: Any) -> None:
        kwargs.setdefault("ttl_days", 90)
        super().__init__(table_name, **kwargs)
        self.notifier = notifier

    def record(self, record: Mapping[str, Any]) -> Failure:
        """Record and alert; raises if either fails (the message then stays in the DLQ).

        Whatever the message, its item fits: every string is valid UTF-8 within its byte
        budget (``truncated`` when the original had to be cut), numbers within range."""
        failure = describe(record)
        now = self._clock()
        key = {"PK": ddb.s(f"FAILURE#{ddb.iso(now)[:10]}"), "SK": ddb.s(failure.event_id)}
        original = _json(failure.original)
        kept = clip(original, MAX_ORIGINAL_BYTES)
        item: dict[str, Any] = {
            **key,
            "event_id": ddb.s(failure.event_id),
            "message_id": ddb.s(failure.message_id),
            "error": ddb.s(clip(failure.error, MAX_ERROR_BYTES)),
            "attempts": ddb.n(failure.attempts),
            "original": ddb.s(kept),
            "malformed": {"BOOL": failure.malformed},
            "truncated": {"BOOL": kept != original},
            "recorded_at": ddb.s(ddb.iso(now)),
            "alerted": {"BOOL": False},
            "ttl": self.expires(now),
        }
        for name in ("detail_type", "source", "queue", "origin"):
            value = getattr(failure, name)
            if value:
                item[name] = ddb.s(clip(value, MAX_FIELD_BYTES))
        try:
            self.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(PK)"
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            existing = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
            if existing.get("Item", {}).get("alerted", {}).get("BOOL"):
                return failure  # a redelivery of a message already recorded and alerted
        self.notifier.publish(
            subject(failure.detail_type),
            {
                "failure_key": {"PK": key["PK"]["S"], "SK": key["SK"]["S"]},
                "event_id": failure.event_id,
                "detail_type": item["detail_type"]["S"] if "detail_type" in item else None,
                "error": item["error"]["S"],
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
