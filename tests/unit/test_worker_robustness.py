"""Workers under hostile input and partial failures (issue 13).

dlq_handler: any dead letter, whatever its body and attributes, becomes exactly one failure
record and one alert (never lost, never cycling in the queue). Approval decisions: a rejection
note is written exactly once whichever attempt of the decision succeeds.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentocore.api import Identity
from agentocore.approvals_api import ApprovalsApi
from agentocore.events import PublishError

from .functions import conftest as handlers
from .functions.conftest import (
    LambdaContext,
    eventbridge_event,
    http_event,
    install_runtime,
    load_function,
    response_json,
)

stack = handlers.stack  # the handlers' fixture: table, bus, topics and capture queues
dlq = load_function("dlq_handler")
approval = load_function("approval_worker")
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:agentocore-ci-standard-worker-dlq"
#: DynamoDB's item limit (names and values, UTF-8).
ITEM_LIMIT = 400 * 1024


def sqs_record(body: Any, *, attributes: Any = None, receive_count: Any = "1") -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count},
        "messageAttributes": {} if attributes is None else attributes,
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def failures(stack: Any) -> list[dict[str, Any]]:
    return stack.items("FAILURE#")


def item_size(item: dict[str, Any]) -> int:
    size = 0
    for name, value in item.items():
        [(kind, raw)] = value.items()
        size += len(name.encode()) + (len(str(raw).encode()) if kind in "SN" else 1)
    return size


def refund_with(**envelope: Any) -> dict[str, Any]:
    event = eventbridge_event("RefundRequested", {"action_id": "a1"}, "agentocore.actions")
    return {**event, **envelope}


def clear(stack: Any) -> None:
    """Forget the failures recorded so far (each case starts from an empty log)."""
    for item in failures(stack):
        stack.dynamodb.delete_item(TableName=stack.table, Key={"PK": item["PK"], "SK": item["SK"]})


def deliver_twice(stack: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Deliver ``record`` (and then again, as SQS redelivers): one item, one alert."""
    clear(stack)
    for _ in range(2):
        assert dlq.handler({"Records": [record]}, LambdaContext()) == {"batchItemFailures": []}
    [item] = failures(stack)
    assert item["alerted"]["BOOL"] is True
    assert item_size(item) < ITEM_LIMIT
    [alert] = stack.notices(stack.alerts_queue)
    assert alert["subject"].isascii() and len(alert["subject"]) <= 100
    assert alert["message"]["event_id"] == item["SK"]["S"]
    return item


WRONG_TYPES = [5, 1.5, None, True, ["RefundRequested"], {"name": "RefundRequested"}]


def test_a_dead_letter_whose_detail_type_is_not_a_string_is_recorded_and_alerted(stack):
    install_runtime(dlq, [])
    for value in WRONG_TYPES:
        event = refund_with(**{"detail-type": value})
        item = deliver_twice(stack, sqs_record(json.dumps(event)))
        assert item["malformed"]["BOOL"] is True
        assert "detail-type" in item["error"]["S"]
        assert item["SK"]["S"] == event["id"]
        assert item["detail_type"]["S"] == json.dumps(value)  # as text
        assert json.loads(item["original"]["S"]) == event  # kept as it came


@pytest.mark.parametrize("field", ["source", "id", "detail"])
def test_a_dead_letter_whose_envelope_fields_have_unexpected_types_is_recorded(stack, field):
    install_runtime(dlq, [])
    for value in WRONG_TYPES:
        if field == "detail" and isinstance(value, dict):
            value = "not an object"
        event = refund_with(**{field: value})
        item = deliver_twice(stack, sqs_record(json.dumps(event)))
        assert item["malformed"]["BOOL"] is True
        assert field in item["error"]["S"]
        assert json.loads(item["original"]["S"]) == event


def test_a_dead_letter_whose_body_is_json_but_not_an_object_is_recorded(stack):
    install_runtime(dlq, [])
    for body in ["[1, 2]", '"text"', "42", "null", "true", "1e999"]:
        record = sqs_record(body)
        item = deliver_twice(stack, record)
        assert item["malformed"]["BOOL"] is True, body
        assert item["SK"]["S"] == record["messageId"]
        assert "not an object" in item["error"]["S"]


HUGE_BODIES = {
    "escape-heavy-json": json.dumps(
        {"detail-type": "X", "id": "big", "detail": {"t": '"\\' * 300_000}}
    ),
    "backslashes": "\\" * 1_000_000,  # not JSON, escapes to twice its size
    "multibyte": "\u00e9" * 300_000,  # 600 KB of UTF-8
    "deep-nesting": "[" * 400_000,  # JSON too deep to parse
}


def test_a_huge_dead_letter_is_recorded_within_the_item_limit(stack):
    install_runtime(dlq, [])
    for name, body in HUGE_BODIES.items():
        item = deliver_twice(stack, sqs_record(body))
        assert item["truncated"]["BOOL"] is True, name
        assert "truncated" in item["original"]["S"][-200:]
        as_text = json.dumps(body, ensure_ascii=False)  # a body that is not JSON: as a string
        assert item["original"]["S"][:1000] in (body[:1000], as_text[:1000])


def test_a_dead_letter_with_a_huge_id_and_error_is_recorded(stack):
    install_runtime(dlq, [])
    event = refund_with(id="i" * 5000)
    attributes = {"ERROR_MESSAGE": {"stringValue": "boom " * 100_000, "dataType": "String"}}
    item = deliver_twice(stack, sqs_record(json.dumps(event), attributes=attributes))
    assert len(item["SK"]["S"].encode()) <= 1024  # DynamoDB's sort key limit
    assert item["error"]["S"].startswith("boom boom")


def test_a_redelivered_huge_id_is_still_recorded_once(stack):
    """Two different ids sharing a long prefix are two failures, each recorded once."""
    install_runtime(dlq, [])
    for suffix in ("a", "b", "a"):
        event = refund_with(id="i" * 5000 + suffix)
        record = sqs_record(json.dumps(event))
        assert dlq.handler({"Records": [record]}, LambdaContext()) == {"batchItemFailures": []}
    assert len(failures(stack)) == 2
    assert len(stack.notices(stack.alerts_queue)) == 2


INVALID_ATTRIBUTES: dict[str, Any] = {
    "invalid-base64": {"ERROR_CODE": {"binaryValue": "@@not base64@@", "dataType": "Binary"}},
    "binary-not-utf8": {"ERROR_CODE": {"binaryValue": "//79/A==", "dataType": "Binary"}},
    "lone-surrogate": {"ERROR_MESSAGE": {"stringValue": "lone \ud800 x", "dataType": "String"}},
    "object-value": {"ERROR_MESSAGE": {"stringValue": {"nested": [1]}, "dataType": "String"}},
    "unicode-digit": {"RETRY_ATTEMPTS": {"stringValue": "\u00b2", "dataType": "Number"}},
    "huge-number": {"RETRY_ATTEMPTS": {"stringValue": "9" * 60, "dataType": "Number"}},
    "list": ["not", "a", "mapping"],
    "string": "garbage",
}


def test_a_dead_letter_with_invalid_attributes_is_recorded(stack):
    install_runtime(dlq, [])
    for name, attributes in INVALID_ATTRIBUTES.items():
        event = refund_with()
        item = deliver_twice(stack, sqs_record(json.dumps(event), attributes=attributes))
        assert item["SK"]["S"] == event["id"], name
        assert int(item["attempts"]["N"]) <= 10**9  # within DynamoDB's number precision


def test_a_failure_record_of_unexpected_shape_is_recorded(stack):
    install_runtime(dlq, [])
    for payload in [
        {"requestContext": "oops", "requestPayload": {"id": "e1"}},
        {"requestContext": {"approximateInvokeCount": "many"}, "requestPayload": None},
        {"DDBStreamBatchInfo": {"shardId": ["x"] * 1000}, "requestContext": 7},
    ]:
        record = sqs_record(json.dumps(payload), receive_count="not a number")
        item = deliver_twice(stack, record)
        assert item["attempts"]["N"] == "1"
        assert json.loads(item["original"]["S"]) == payload.get("requestPayload", payload)


def test_a_body_that_is_not_text_is_recorded(stack):
    install_runtime(dlq, [])
    deliver_twice(stack, sqs_record({"body": "an object, not a string"}))


# ---- the property: any body and attributes -> one record, one alert, no failure ----------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
ENVELOPE = ["detail-type", "source", "id", "detail", "requestContext", "requestPayload"]
envelopes = st.dictionaries(
    st.sampled_from([*ENVELOPE, "responsePayload", "DDBStreamBatchInfo"]) | st.text(max_size=5),
    json_values,
    max_size=6,
)
bodies = st.one_of(
    st.text(),
    json_values.map(json.dumps),
    envelopes.map(json.dumps),
    st.builds(lambda n, ch: ch * n, st.integers(0, 300_000), st.sampled_from(['"', "\\", "é"])),
)
attribute_values = st.one_of(
    json_values,
    st.fixed_dictionaries({"stringValue": json_values, "dataType": st.just("String")}),
    st.fixed_dictionaries({"binaryValue": st.text(), "dataType": st.just("Binary")}),
)
attribute_maps = st.one_of(
    st.dictionaries(
        st.sampled_from(["ERROR_CODE", "ERROR_MESSAGE", "RETRY_ATTEMPTS", "TARGET_ARN"])
        | st.text(max_size=8),
        attribute_values,
        max_size=4,
    ),
    json_values,
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, attributes=attribute_maps, receive_count=json_values)
def test_any_dead_letter_becomes_exactly_one_record_and_one_alert(
    stack, body, attributes, receive_count
):
    install_runtime(dlq, [])
    clear(stack)
    record = sqs_record(body, attributes=attributes, receive_count=receive_count)
    assert dlq.handler({"Records": [record]}, LambdaContext()) == {"batchItemFailures": []}
    [item] = failures(stack)
    assert item["alerted"]["BOOL"] is True and item_size(item) < ITEM_LIMIT
    assert len(stack.notices(stack.alerts_queue)) == 1


# ---- rejection notes ----------------------------------------------------------------------


@pytest.fixture
def conversation(stack):
    """A saved conversation whose turn requested a refund that needs approval."""
    install_runtime(approval, [])
    rt = approval.runtime()
    rt.memory.append(
        "c1",
        [
            {"role": "user", "content": [{"text": "refund A-2002 please"}]},
            {"role": "assistant", "content": [{"text": "requested"}]},
        ],
        expected_turn_count=0,
        user_id="user-a",
    )
    action = {
        "action_type": "RefundOrder",
        "action_id": "big-1",
        "payload": {"order_id": "A-2002", "amount": 5000, "currency": "USD"},
        "conversation_id": "c1",
        "requested_by": "user-a",
    }
    rt.approvals.create(
        "big-1",
        action_type="RefundOrder",
        action=action,
        requested_by="user-a",
        conversation_id="c1",
    )
    return stack


def reject(reason: str = "outside the return window") -> tuple[int, dict[str, Any]]:
    body = {"decision": "reject", "reason": reason}
    event = http_event("POST", "/approvals/big-1", body=body, sub="boss", groups="[approvers]")
    return response_json(approval.handler(event, LambdaContext()))


def notes() -> list[str]:
    _, turns, _ = approval.runtime().memory.history("c1")
    return [
        block["text"]
        for turn in turns
        for block in turn.content
        if "text" in block and block["text"].startswith("[Approval big-1]")
    ]


def bus_down_once(publisher: Any) -> None:
    """The bus fails the first publish only."""
    publish = publisher.publish

    def flaky(*events: Any) -> Any:
        publisher.publish = publish
        raise PublishError("bus unavailable")

    publisher.publish = flaky


def test_a_rejection_whose_first_publish_failed_is_noted_once_on_the_retry(conversation):
    bus_down_once(approval.runtime().publisher)
    status, err = reject()
    assert (status, err["error"]["code"]) == (502, "publish_failed")
    assert notes() == []  # nothing published, nothing said yet
    status, body = reject()  # the approver sends the same decision again
    assert (status, body["status"]) == (200, "rejected")
    assert notes() == [
        "[Approval big-1] The request (RefundOrder) was rejected by an approver: "
        "outside the return window."
    ]
    assert len(conversation.bus_events("ActionRejected")) == 1
    assert reject()[0] == 409  # settled: decided, published and noted
    assert len(notes()) == 1


def test_a_rejection_note_that_failed_after_the_publish_is_written_by_the_retry(
    conversation,
):
    """The publish succeeded but the note's write failed (a 500): the retry writes it
    without publishing again."""
    memory = approval.runtime().memory
    append = memory.append

    def broken(*args: Any, **kwargs: Any) -> Any:
        memory.append = append
        raise ConnectionError("DynamoDB unreachable")

    memory.append = broken
    assert reject()[0] == 500  # a JSON error, never a bare 500
    assert notes() == []
    assert reject()[0] == 200
    assert len(notes()) == 1
    assert len(conversation.bus_events("ActionRejected")) == 1
    assert reject()[0] == 409


def test_a_turn_landing_before_the_rejection_note_moves_the_note_on(conversation):
    """Another message takes the claimed turn first: the claim moves past it, one note."""
    memory = approval.runtime().memory
    append = memory.append

    def interloper_first(conversation_id: str, messages: Any, **kwargs: Any) -> int:
        memory.append = append
        other = [{"role": "assistant", "content": [{"text": "a concurrent run's reply"}]}]
        append(conversation_id, other, **kwargs)  # takes the turn the note claimed
        return append(conversation_id, messages, **kwargs)  # raises TurnConflict

    memory.append = interloper_first
    assert reject()[0] == 200
    _, turns, _ = memory.history("c1")
    assert [t.content[0]["text"][:17] for t in turns[2:]] == [
        "a concurrent run'",
        "[Approval big-1] ",
    ]
    assert reject()[0] == 409


def test_two_concurrent_retries_of_a_rejection_write_one_note(conversation):
    """The worst interleaving: both retries read the conversation before either appends, and
    the one whose note lands marks it only after the other has finished: one note, not two."""
    runtime = approval.runtime()
    bus_down_once(runtime.publisher)
    assert reject()[0] == 502
    get_meta, mark = runtime.memory.get_meta, runtime.approvals.mark
    both_read = threading.Barrier(2, timeout=10)
    waited: set[int] = set()
    first_mark, one_done = threading.Lock(), threading.Event()

    def meta_after_both_read(conversation_id: str) -> Any:
        meta = get_meta(conversation_id)
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_read.wait()
        return meta

    def mark_after_the_other(approval_id: str, flag: Any) -> None:
        if flag == "noted" and first_mark.acquire(blocking=False):
            one_done.wait(timeout=10)  # bounded: the other retry finishes first
        mark(approval_id, flag)

    api = ApprovalsApi(runtime)  # the route's service (the HTTP resolver is one per process)
    boss = Identity("boss", frozenset({"approvers"}))
    body = json.dumps({"decision": "reject", "reason": "outside the return window"})
    results: list[int] = []

    def retry() -> None:
        results.append(api.decide(boss, "big-1", body)[0])
        one_done.set()

    runtime.memory.get_meta = meta_after_both_read
    runtime.approvals.mark = mark_after_the_other
    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    runtime.memory.get_meta, runtime.approvals.mark = get_meta, mark
    assert sorted(results) == [200, 200]
    assert len(notes()) == 1
    assert reject()[0] == 409
