"""A retried request whose exchange is stored is answered from its receipt: after the save
committed, whatever failed (the idempotency record's completion, the save's response), the
retry neither runs the model nor stores the exchange again."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from agentocore.models.scripted import text_response, tool_use_response

from .conftest import LambdaContext, http_event, install_runtime, load_function, response_json

fn = load_function("agent_executor")
REFUND = {"order_id": "A-1001", "reason": "broken"}


@dataclass
class ShortContext(LambdaContext):
    """A Lambda about to time out: its in-progress idempotency record expires at once."""

    def get_remaining_time_in_millis(self) -> int:
        return 1


def post(conversation_id, message, key, context=None):
    event = http_event(
        "POST",
        f"/conversations/{conversation_id}/messages",
        body={"message": message},
        sub="user-a",
        headers={"Idempotency-Key": key},
    )
    return response_json(fn.handler(event, context or LambdaContext()))


def kinds(stack, conversation_id):
    return sorted(i["SK"]["S"].split("#")[0] for i in stack.items(f"CONV#{conversation_id}"))


@pytest.fixture
def completion_fails_once(monkeypatch):
    """The idempotency record's completion (UpdateItem to COMPLETED) fails once."""
    original = DynamoDBPersistenceLayer._update_record
    calls = []

    def update(self, data_record):
        calls.append(data_record.status)
        if len(calls) == 1:
            raise RuntimeError("DynamoDB throttled the idempotency record's completion")
        return original(self, data_record)

    monkeypatch.setattr(DynamoDBPersistenceLayer, "_update_record", update)
    return calls


def test_a_retry_after_the_idempotency_record_failed_to_complete_answers_the_same(
    stack, completion_fails_once
):
    model = install_runtime(
        fn,
        [
            tool_use_response(("t1", "trigger_refund", REFUND)),
            text_response("Refund requested."),
            text_response("a second run would say this"),
        ],
    )
    status, err = post("r1", "Refund order A-1001, broken", "lost-answer", ShortContext())
    assert status in (500, 503), err  # a JSON error the client retries, not a bare crash
    time.sleep(0.01)  # the in-progress record expired (the Lambda timed out)
    status, body = post("r1", "Refund order A-1001, broken", "lost-answer")
    assert status == 200, body
    assert body["reply"] == "Refund requested." and body["turn"] == 1
    assert len(model.requests) == 2  # the first run only
    assert kinds(stack, "r1") == ["META", "REQ", "TURN", "TURN", "TURN", "TURN"]
    [requested] = stack.bus_events("ActionRequested")
    action_id = requested["detail"]["action_id"]
    assert body["actions"] == [
        {"action_id": action_id, "type": "RefundOrder", "status": "requested"}
    ]
    assert body["usage"]["input_tokens"] > 0  # the first run's usage, as saved


def test_a_retry_after_the_save_timed_out_having_committed_answers_the_same(stack, monkeypatch):
    """The save's TransactWriteItems committed, then the client timed out: the request failed
    with the exchange stored. Its retry is answered from the receipt."""
    from botocore.exceptions import ReadTimeoutError

    model = install_runtime(fn, [text_response("Hello!"), text_response("again?")])
    memory = fn.runtime().memory
    client = memory.client
    original = client.transact_write_items
    failed = []

    def transact(**kwargs):
        result = original(**kwargs)
        if not failed:
            failed.append(True)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return result

    monkeypatch.setattr(client, "transact_write_items", transact)
    status, _ = post("r2", "hi", "timed-out", ShortContext())
    assert status in (500, 503)
    time.sleep(0.01)
    status, body = post("r2", "hi", "timed-out")
    assert (status, body["reply"], body["turn"]) == (200, "Hello!", 1)
    assert len(model.requests) == 1
    assert kinds(stack, "r2") == ["META", "REQ", "TURN", "TURN"]
