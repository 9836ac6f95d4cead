"""dlq_handler: batches mixing EventBridge DLQ messages, Lambda failure records and garbage."""

from __future__ import annotations

import json
import uuid

from .conftest import LambdaContext, eventbridge_event, install_runtime, load_function

dlq = load_function("dlq_handler")
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:agentocore-ci-standard-worker-dlq"


def sqs_record(body, *, attributes=None, receive_count=1):
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": attributes or {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def attr(value):
    return {"stringValue": value, "dataType": "String"}


def refund(action_id):
    return eventbridge_event(
        "RefundRequested",
        {"action_id": action_id, "order_id": "A-9999", "amount": 50, "currency": "USD"},
        "agentocore.actions",
    )


def failures(stack):
    return {i["SK"]["S"]: i for i in stack.items("FAILURE#")}


def test_mixed_batch_records_every_message_and_alerts(stack):
    install_runtime(dlq, [])
    target_dlq = refund("a1")
    destination = {
        "version": "1.0",
        "requestContext": {
            "requestId": "r1",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:standard-worker",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": refund("a2"),
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": "payment system unavailable for order A-9999",
            "errorType": "PaymentSystemUnavailable",
        },
    }
    records = [
        sqs_record(
            json.dumps(target_dlq),
            attributes={
                "ERROR_CODE": attr("Lambda.FunctionError"),
                "ERROR_MESSAGE": attr("function failed after retries"),
                "RETRY_ATTEMPTS": attr("2"),
                "RULE_ARN": attr("arn:aws:events:us-east-1:123456789012:rule/small-refunds"),
            },
        ),
        sqs_record(json.dumps(destination)),
        sqs_record("this is {not json", receive_count=2),
    ]
    out = dlq.handler({"Records": records}, LambdaContext())
    assert out == {"batchItemFailures": []}

    items = failures(stack)
    expected = {target_dlq["id"], destination["requestPayload"]["id"], records[2]["messageId"]}
    assert set(items) == expected
    first = items[target_dlq["id"]]
    assert first["error"]["S"] == "Lambda.FunctionError: function failed after retries"
    assert first["attempts"]["N"] == "3"
    assert first["detail_type"]["S"] == "RefundRequested"
    assert json.loads(first["original"]["S"])["detail"]["action_id"] == "a1"
    assert first["queue"]["S"] == "agentocore-ci-standard-worker-dlq"
    second = items[destination["requestPayload"]["id"]]
    assert second["error"]["S"].startswith("PaymentSystemUnavailable: payment system unavailable")
    assert second["attempts"]["N"] == "3"
    bad = items[records[2]["messageId"]]
    assert bad["malformed"]["BOOL"] is True
    assert json.loads(bad["original"]["S"]) == "this is {not json"
    assert "not JSON" in bad["error"]["S"]
    assert all(i["alerted"]["BOOL"] for i in items.values())
    assert all(i["PK"]["S"].startswith("FAILURE#20") for i in items.values())

    alerts = stack.notices(stack.alerts_queue)
    assert len(alerts) == 3
    subjects = sorted(a["subject"] for a in alerts)
    assert subjects == [
        "AgentoCore failure: RefundRequested",
        "AgentoCore failure: RefundRequested",
        "AgentoCore failure: unparseable message",
    ]


def test_redelivered_message_is_not_alerted_twice(stack):
    install_runtime(dlq, [])
    record = sqs_record(json.dumps(refund("a3")), attributes={"ERROR_CODE": attr("X")})
    dlq.handler({"Records": [record]}, LambdaContext())
    dlq.handler({"Records": [record]}, LambdaContext())
    assert len(failures(stack)) == 1
    assert len(stack.notices(stack.alerts_queue)) == 1


def test_a_record_that_cannot_be_alerted_stays_in_the_queue(stack):
    install_runtime(dlq, [])
    good = sqs_record(json.dumps(refund("a4")))
    bad = sqs_record(json.dumps(refund("a5")))
    recorder = dlq.recorder()
    publish = recorder.notifier.publish

    def flaky(subject, message, **attributes):
        if message["event_id"] == json.loads(bad["body"])["id"]:
            raise ConnectionError("SNS unavailable")
        return publish(subject, message, **attributes)

    recorder.notifier.publish = flaky
    out = dlq.handler({"Records": [good, bad]}, LambdaContext())
    assert out == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    items = failures(stack)
    assert items[json.loads(bad["body"])["id"]]["alerted"]["BOOL"] is False  # recorded anyway
    # SNS is back: the redelivery alerts exactly once
    recorder.notifier.publish = publish
    out = dlq.handler({"Records": [bad]}, LambdaContext())
    assert out == {"batchItemFailures": []}
    assert len(stack.notices(stack.alerts_queue)) == 2


def test_an_unrouted_event_is_recorded_as_unrouted_and_alerted(stack):
    """The bus's catch-all rule sends events no rule handles (here an undeclared action type)
    straight to the unrouted queue: no error attributes, the queue says what went wrong."""
    install_runtime(dlq, [])
    event = eventbridge_event("CancelOrder", {"order_id": "A-1"}, "agentocore.actions")
    record = sqs_record(json.dumps(event))
    record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:agentocore-ci-unrouted-dlq"
    assert dlq.handler({"Records": [record]}, LambdaContext()) == {"batchItemFailures": []}
    [item] = failures(stack).values()
    assert item["error"]["S"].startswith("unrouted: no rule")
    assert item["detail_type"]["S"] == "CancelOrder"
    [alert] = stack.notices(stack.alerts_queue)
    assert alert["message"]["detail_type"] == "CancelOrder"
