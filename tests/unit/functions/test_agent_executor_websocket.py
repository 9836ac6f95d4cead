"""The WebSocket API through agent_executor's handler: subscriptions, live runs, resuming after
a reconnect, other users, gone connections, approvers' topic, actions' progress."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

from agentocore.models.scripted import text_response, tool_use_response
from agentocore.stream.push import ConnectionGone, SocketPusher

from .conftest import (
    LambdaContext,
    eventbridge_event,
    http_event,
    install_runtime,
    load_function,
    response_json,
)

fn = load_function("agent_executor")
ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/live"


class Sockets:
    """The management API as API Gateway answers it: a post to a closed connection is 410."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.gone: set[str] = set()
        self.posts = 0

    def post(self, connection_id: str, data: bytes) -> None:
        self.posts += 1
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        self.sent[connection_id].append(json.loads(data))

    def records(self, connection_id: str) -> list[dict[str, Any]]:
        return [m for m in self.sent[connection_id] if "seq" in m]

    def of_type(self, connection_id: str, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent[connection_id] if m.get("type") == kind]


def setup(steps: list[Any]) -> Sockets:
    model_steps = steps
    install_runtime(fn, model_steps, ws_endpoint=ENDPOINT)
    rt = fn.runtime()
    sockets = Sockets()
    rt.__dict__["pusher"] = SocketPusher(rt.connections, sockets)  # before the event log
    return sockets


def ws(kind: str, connection: str, body: Any = None, *, sub: str = "user-a", groups: str = ""):
    route = {"CONNECT": "$connect", "DISCONNECT": "$disconnect"}.get(kind)
    if route is None:
        route = body.get("action", "$default") if isinstance(body, dict) else "$default"
    authorizer = {"principalId": sub, "sub": sub, "groups": groups}
    event = {
        "requestContext": {
            "routeKey": route,
            "eventType": kind,
            "connectionId": connection,
            "requestId": str(uuid.uuid4()),
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "stage": "live",
            "apiId": "abc123",
            "authorizer": authorizer,
        },
        "body": json.dumps(body) if isinstance(body, dict) else body,
        "isBase64Encoded": False,
    }
    return fn.handler(event, LambdaContext())


def connect(connection: str, **kwargs: Any) -> None:
    assert ws("CONNECT", connection, **kwargs)["statusCode"] == 200


def script() -> list[Any]:
    return [
        tool_use_response(("t1", "get_order_status", {"order_id": "A-1001"}), text="Looking."),
        text_response("Order A-1001 was delivered."),
    ]


def send(connection: str, conversation: str, message: str, request_id: str | None = None, **kw):
    body = {"action": "sendMessage", "conversation_id": conversation, "message": message}
    if request_id:
        body["request_id"] = request_id
    return ws("MESSAGE", connection, body, **kw)


def test_a_watched_run_arrives_live_numbered_then_its_reply(stack):
    sockets = setup(script())
    connect("conn-1")
    ws("MESSAGE", "conn-1", {"action": "subscribe", "conversation_id": "c1", "after": 0})
    assert sockets.sent["conn-1"][0] == {
        "type": "subscribed",
        "conversation_id": "c1",
        "after": 0,
        "backlog": 0,
        "more": False,
    }
    send("conn-1", "c1", "Where is A-1001?", request_id="r1")
    records = sockets.records("conn-1")
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert [r["type"] for r in records] == [
        "text",
        "usage",
        "tool_use_start",
        "tool_use_end",
        "text",
        "usage",
        "result",
    ]
    assert {r["conversation_id"] for r in records} == {"c1"}
    [reply] = sockets.of_type("conn-1", "reply")
    assert reply["status"] == 200 and reply["request_id"] == "r1"
    assert reply["body"]["reply"] == records[-1]["text"] == "Order A-1001 was delivered."
    assert records[-1]["turn"] == reply["body"]["turn"] == 1  # the saved exchange's first turn
    assert sockets.sent["conn-1"][-1] == reply  # the reply comes after the result
    # the same records over HTTP
    status, page = response_json(
        fn.handler(http_event("GET", "/conversations/c1/events"), LambdaContext())
    )
    stored = [{k: v for k, v in r.items() if k != "conversation_id"} for r in records]
    assert status == 200 and page["events"] == stored


def test_a_reconnecting_client_gets_exactly_what_it_missed(stack):
    sockets = setup(script())
    connect("conn-1")
    send("conn-1", "c1", "Where is A-1001?")
    seen = sockets.records("conn-1")
    assert len(seen) == 7
    ws("DISCONNECT", "conn-1")
    connect("conn-2")
    ws("MESSAGE", "conn-2", {"action": "subscribe", "conversation_id": "c1", "after": 3})
    subscribed, *backlog = sockets.sent["conn-2"]
    assert subscribed["backlog"] == 4
    assert [r["seq"] for r in backlog] == [4, 5, 6, 7]
    assert backlog == seen[3:]


def test_the_same_request_id_again_is_the_same_request(stack):
    sockets = setup(script())
    connect("conn-1")
    send("conn-1", "c1", "Where is A-1001?", request_id="r1")
    _, conv = response_json(fn.handler(http_event("GET", "/conversations/c1"), LambdaContext()))
    assert fn.runtime().model.remaining == 0
    connect("conn-2")  # the client reconnected and sends its request again
    send("conn-2", "c1", "Where is A-1001?", request_id="r1")
    [first] = sockets.of_type("conn-1", "reply")
    [second] = sockets.of_type("conn-2", "reply")
    assert first["body"]["reply"] == second["body"]["reply"]
    # no second model call (the script is spent: another call would fail), no second turn
    _, again = response_json(fn.handler(http_event("GET", "/conversations/c1"), LambdaContext()))
    assert again["turns"] == conv["turns"]


def test_another_user_never_hears_of_the_conversation(stack):
    sockets = setup(script())
    connect("mallory", sub="user-b")
    # subscribed before the conversation exists: the push checks each batch's owner
    ws("MESSAGE", "mallory", {"action": "subscribe", "conversation_id": "c1"}, sub="user-b")
    connect("conn-1")
    send("conn-1", "c1", "Where is A-1001?")
    assert sockets.records("mallory") == [] and len(sockets.records("conn-1")) == 7
    # once it exists, subscribing is refused, with nothing sent
    ws("MESSAGE", "mallory", {"action": "subscribe", "conversation_id": "c1"}, sub="user-b")
    [error] = sockets.of_type("mallory", "error")
    assert error["status"] == 404 and sockets.records("mallory") == []
    # and sending to it is the HTTP API's 404
    send("mallory", "c1", "hello", sub="user-b")
    assert sockets.of_type("mallory", "error")[-1]["status"] == 404


def test_a_gone_connection_ends_its_push_not_the_run(stack):
    sockets = setup(script())
    connect("conn-1")
    connect("watcher")
    ws("MESSAGE", "watcher", {"action": "subscribe", "conversation_id": "c1"})
    sockets.gone.add("conn-1")  # the sender's browser closed meanwhile
    send("conn-1", "c1", "Where is A-1001?")
    assert len(sockets.records("watcher")) == 7  # the run went on; the other tab saw it all
    posts = sockets.posts
    # conn-1 was marked: the next run does not post to it at all
    install_runtime(fn, [text_response("Anything else?")], ws_endpoint=ENDPOINT)
    rt = fn.runtime()
    rt.__dict__["pusher"] = SocketPusher(rt.connections, sockets)
    send("watcher", "c1", "thanks")
    assert all(m.get("type") != "reply" for m in sockets.sent["conn-1"])
    watcher_posts = len(sockets.sent["watcher"]) - 1 - 7  # its new records + reply
    assert sockets.posts - posts == watcher_posts
    status, conv = response_json(
        fn.handler(http_event("GET", "/conversations/c1"), LambdaContext())
    )
    saved = json.dumps(conv["turns"])  # both runs were saved
    assert status == 200 and "A-1001 was delivered" in saved and "Anything else?" in saved


def test_disconnect_closes_every_subscription(stack):
    sockets = setup(script())
    connect("conn-1")
    ws("MESSAGE", "conn-1", {"action": "subscribe", "conversation_id": "c1"})
    ws("MESSAGE", "conn-1", {"action": "subscribe", "conversation_id": "c2"})
    ws("DISCONNECT", "conn-1")
    connect("conn-2")
    send("conn-2", "c1", "Where is A-1001?")
    assert sockets.records("conn-1") == []
    assert fn.runtime().connections.listeners("CONV#c1") == ["conn-2"]


def test_bad_messages_get_errors_on_the_socket(stack):
    sockets = setup(script())
    connect("conn-1")
    for body in (
        "not json",
        json.dumps([1, 2]),
        {"action": "explode"},
        {"action": "subscribe"},
        {"action": "subscribe", "conversation_id": "c1", "topic": "approvals"},
        {"action": "subscribe", "conversation_id": "bad id!"},
        {"action": "subscribe", "conversation_id": "c1", "after": -1},
        {"action": "sendMessage", "conversation_id": "c1", "message": ""},
        {"action": "sendMessage", "conversation_id": "c1", "message": "hi", "extra": 1},
        {"action": "sendMessage", "conversation_id": "c1", "message": "hi", "request_id": "a b"},
    ):
        assert ws("MESSAGE", "conn-1", body)["statusCode"] == 200
    errors = sockets.of_type("conn-1", "error")
    assert len(errors) == 10 and {e["status"] for e in errors} == {400}
    assert all(e["error"]["message"] for e in errors)
    assert fn.runtime().memory.get_meta("c1").exists is False  # nothing ran


def test_connect_without_an_identity_is_refused(stack):
    setup(script())
    event = {
        "requestContext": {"eventType": "CONNECT", "connectionId": "x", "authorizer": {}},
    }
    assert fn.handler(event, LambdaContext())["statusCode"] == 401


def test_approvers_hear_of_approvals_and_users_of_their_actions(stack):
    sockets = setup(script())
    connect("user", sub="user-a")
    send("user", "c1", "Where is A-1001?")  # the conversation exists, user-a's
    connect("approver", sub="boss", groups="approvers")
    ws(
        "MESSAGE",
        "approver",
        {"action": "subscribe", "topic": "approvals"},
        sub="boss",
        groups="approvers",
    )
    assert sockets.sent["approver"] == [{"type": "subscribed", "topic": "approvals"}]
    connect("nosy", sub="user-b")
    ws("MESSAGE", "nosy", {"action": "subscribe", "topic": "approvals"}, sub="user-b")
    assert sockets.of_type("nosy", "error")[0]["status"] == 403
    before = len(sockets.records("user"))
    requested = eventbridge_event(
        "ActionApprovalRequested",
        {
            "approval_id": "ap-1",
            "action_id": "act-1",
            "action_type": "RefundRequested",
            "requested_by": "user-a",
            "conversation_id": "c1",
            "summary": "refund 5000",
        },
        "agentocore.approvals",
    )
    fn.handler(requested, LambdaContext())
    fn.handler(requested, LambdaContext())  # redelivered: told once
    completed = eventbridge_event(
        "ActionCompleted",
        {"action_id": "act-1", "action_type": "RefundRequested", "conversation_id": "c1"},
        "agentocore.workers",
    )
    fn.handler(completed, LambdaContext())
    statuses = [r for r in sockets.records("user")[before:]]
    assert [(r["type"], r["status"]) for r in statuses] == [
        ("action_status", "pending_approval"),
        ("action_status", "completed"),
    ]
    assert statuses[0]["approval_id"] == "ap-1" and statuses[0]["seq"] == before + 1
    assert sockets.of_type("approver", "approval") == [
        {
            "topic": "approvals",
            "type": "approval",
            "approval_id": "ap-1",
            "status": "pending",
            "action_type": "RefundRequested",
            "conversation_id": "c1",
            "decided_by": None,
        }
    ]
    assert sockets.sent["nosy"] == sockets.of_type("nosy", "error")
    # the log holds them for a client that reconnects
    _, page = response_json(
        fn.handler(
            http_event("GET", "/conversations/c1/events", query={"after": str(before)}),
            LambdaContext(),
        )
    )
    assert [e["status"] for e in page["events"]] == ["pending_approval", "completed"]


def test_a_forged_progress_event_from_another_source_is_refused(stack):
    setup(script())
    forged = eventbridge_event(
        "ActionCompleted",
        {"action_id": "act-1", "action_type": "RefundRequested", "conversation_id": "c1"},
        "agentocore.agent",
    )
    try:
        fn.handler(forged, LambdaContext())
    except Exception as exc:  # the event contract names each detail-type's source
        assert "source" in str(exc)
    else:
        raise AssertionError("a progress event from the wrong source was accepted")


def test_a_connection_listens_to_a_bounded_number_of_conversations(stack):
    from agentocore.stream.push import MAX_SUBSCRIPTIONS

    sockets = setup(script())
    connect("conn-1")
    for i in range(MAX_SUBSCRIPTIONS):
        ws("MESSAGE", "conn-1", {"action": "subscribe", "conversation_id": f"c{i}"})
    ws("MESSAGE", "conn-1", {"action": "subscribe", "conversation_id": "c0"})  # again: fine
    assert sockets.of_type("conn-1", "error") == []
    ws("MESSAGE", "conn-1", {"action": "subscribe", "conversation_id": "one-too-many"})
    [error] = sockets.of_type("conn-1", "error")
    assert error["status"] == 429 and error["error"]["code"] == "too_many_subscriptions"
    assert fn.runtime().connections.listeners("CONV#one-too-many") == []
    # unsubscribing makes room; unsubscribing from what it never listened to is harmless
    ws("MESSAGE", "conn-1", {"action": "unsubscribe", "conversation_id": "c5"})
    ws("MESSAGE", "conn-1", {"action": "unsubscribe", "conversation_id": "never"})
    assert [m["conversation_id"] for m in sockets.of_type("conn-1", "unsubscribed")] == [
        "c5",
        "never",
    ]
    ws("MESSAGE", "conn-1", {"action": "subscribe", "conversation_id": "one-too-many"})
    assert len(sockets.of_type("conn-1", "error")) == 1
    assert fn.runtime().connections.listeners("CONV#one-too-many") == ["conn-1"]
    assert fn.runtime().connections.listeners("CONV#c5") == []


def test_two_messages_at_once_each_run_once_and_every_event_arrives_once(stack):
    """Two tabs of one user send at the same moment: each message runs once (or is refused as
    a conflict), and a watcher receives every logged number exactly once."""
    import threading

    sockets = setup([text_response("First answer."), text_response("Second answer.")])
    for conn in ("tab-1", "tab-2", "watcher"):
        connect(conn)
    ws("MESSAGE", "watcher", {"action": "subscribe", "conversation_id": "c1"})
    barrier = threading.Barrier(2)

    def tab(conn: str, text: str) -> None:
        barrier.wait()
        send(conn, "c1", text, request_id=f"req-{conn}")

    threads = [
        threading.Thread(target=tab, args=("tab-1", "hello")),
        threading.Thread(target=tab, args=("tab-2", "hi there")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers = [
        m
        for conn in ("tab-1", "tab-2")
        for m in sockets.sent[conn]
        if m["type"] in ("reply", "error")
    ]
    assert len(answers) == 2
    assert all(a["status"] in (200, 409) for a in answers) and any(
        a["status"] == 200 for a in answers
    )
    logged = stack.run_events("c1")
    seqs = sorted(r["seq"] for r in sockets.records("watcher"))
    assert seqs == [r["seq"] for r in logged] == list(range(1, len(logged) + 1))
    results = [r for r in logged if r["type"] == "result"]
    assert len(results) == sum(a["status"] == 200 for a in answers)  # one per saved run
    _, conv = response_json(fn.handler(http_event("GET", "/conversations/c1"), LambdaContext()))
    saved = json.dumps(conv["turns"])
    for a in answers:
        if a["status"] == 200:
            assert a["body"]["reply"] in saved
