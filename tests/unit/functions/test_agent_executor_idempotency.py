"""POST /conversations/{id}/messages with an Idempotency-Key: one request, one effect."""

from __future__ import annotations

import threading

from agentocore.models.base import ModelError
from agentocore.models.scripted import text_response, tool_use_response

from .conftest import LambdaContext, http_event, install_runtime, load_function, response_json

fn = load_function("agent_executor")
REFUND = {"order_id": "A-1001", "reason": "broken"}


def post(conversation_id, message, key=None, sub="user-a", **body):
    headers = {"Idempotency-Key": key} if key is not None else None
    event = http_event(
        "POST",
        f"/conversations/{conversation_id}/messages",
        body={"message": message, **body},
        sub=sub,
        headers=headers,
    )
    return response_json(fn.handler(event, LambdaContext()))


def turn_items(stack, conversation_id):
    return [i for i in stack.items(f"CONV#{conversation_id}") if i["SK"]["S"].startswith("TURN#")]


def test_the_same_key_returns_the_first_response_without_a_second_run(stack):
    model = install_runtime(
        fn,
        [
            tool_use_response(("t1", "trigger_refund", REFUND)),
            text_response("Refund requested."),
            text_response("a second run would say this"),
        ],
    )
    first = post("k1", "Refund order A-1001, broken", key="retry-me")
    again = post("k1", "Refund order A-1001, broken", key="retry-me")
    assert first[0] == 200 and again == first
    assert len(model.requests) == 2  # one run: tool call + answer
    assert len(turn_items(stack, "k1")) == 4
    assert len(stack.bus_events("ActionRequested")) == 1


def test_the_same_key_with_another_body_or_conversation_is_refused(stack):
    install_runtime(fn, [text_response("ok")])
    assert post("k2", "hello", key="once")[0] == 200
    status, err = post("k2", "something else", key="once")
    assert (status, err["error"]["code"]) == (422, "idempotency_key_reused")
    status, err = post("k2-other", "hello", key="once")
    assert (status, err["error"]["code"]) == (422, "idempotency_key_reused")


def test_another_users_key_is_another_request(stack):
    model = install_runtime(fn, [text_response("for a"), text_response("for b")])
    assert post("k3a", "hello", key="same", sub="user-a")[1]["reply"] == "for a"
    assert post("k3b", "hello", key="same", sub="user-b")[1]["reply"] == "for b"
    assert len(model.requests) == 2


def test_a_retry_after_a_502_requests_the_same_action(stack):
    """The refund tool ran, then the model failed (502). The client retries with the same key:
    the run happens again (failures are not remembered), the model gives the call a new
    toolUse id, and the action id is still the same: one refund downstream."""
    install_runtime(
        fn,
        [
            tool_use_response(("first", "trigger_refund", REFUND)),
            ModelError("model down"),
            tool_use_response(("second", "trigger_refund", REFUND)),
            text_response("Refund requested."),
        ],
    )
    status, err = post("k4", "Refund order A-1001, broken", key="after-502")
    assert (status, err["error"]["code"]) == (502, "model_failure")
    # forgotten by expiring the record (UpdateItem): no role has dynamodb:DeleteItem
    [record] = stack.items("idempotency#agent_executor-http#")
    assert record["ttl"] == {"N": "1"}
    status, body = post("k4", "Refund order A-1001, broken", key="after-502")
    assert status == 200, body
    requested = stack.bus_events("ActionRequested")
    assert len(requested) == 2
    assert len({e["detail"]["action_id"] for e in requested}) == 1
    assert body["actions"][0]["action_id"] == requested[0]["detail"]["action_id"]


def test_a_request_still_running_with_the_same_key_gets_409(stack):
    started, release = threading.Event(), threading.Event()

    def slow(request):
        started.set()
        release.wait(5)
        return text_response("done")

    install_runtime(fn, [slow])
    results = {}
    worker = threading.Thread(target=lambda: results.update(first=post("k5", "hi", key="busy")))
    worker.start()
    assert started.wait(5)
    status, err = post("k5", "hi", key="busy")
    release.set()
    worker.join(5)
    assert (status, err["error"]["code"]) == (409, "idempotency_in_progress")
    assert results["first"][0] == 200


def test_an_async_request_with_a_key_carries_one_invocation_id(stack):
    install_runtime(fn, [])
    first = post("k6", "later please", key="async-1", **{"async": True})
    again = post("k6", "later please", key="async-1", **{"async": True})
    assert first[0] == 202 and again == first
    invocations = stack.bus_events("AgentInvocationRequested")
    assert [e["detail"]["invocation_id"] for e in invocations] == [first[1]["invocation_id"]]


def test_a_malformed_key_is_a_400(stack):
    install_runtime(fn, [])
    status, err = post("k7", "hi", key="has spaces in it")
    assert (status, err["error"]["code"]) == (400, "invalid_idempotency_key")
    status, err = post("k7", "hi", key="x" * 129)
    assert status == 400


def test_each_idempotency_record_is_its_own_partition(stack):
    """No shared partition key: a function's records spread with their keys' hashes (the
    hash Powertools computes is the partition; the full key is the sort key)."""
    install_runtime(fn, [text_response("one"), text_response("two"), text_response("three")])
    for n, key in enumerate(("key-a", "key-b", "key-c")):
        assert post(f"p{n}", "hello", key=key)[0] == 200
    records = stack.items("idempotency#")
    assert len(records) == 3
    assert len({r["PK"]["S"] for r in records}) == 3
    for record in records:
        prefix, digest = record["PK"]["S"].rsplit("#", 1)
        assert prefix == "idempotency#agent_executor-http"
        assert len(digest) == 32 and record["SK"]["S"].endswith(f"#{digest}")
