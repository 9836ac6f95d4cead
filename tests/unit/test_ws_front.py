"""The local WebSocket front answers like API Gateway's WebSocket API: $connect decides,
messages route by action, $disconnect once, the management API's 410 once a socket is gone."""

from __future__ import annotations

import io
import json
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import ws_front
import ws_management

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)


class FakeLambda:
    """Stands in for the emulator's Lambda API; $connect refuses user ``blocked``."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.disconnected = threading.Event()

    def invoke(self, FunctionName: str, Payload: str) -> dict[str, Any]:
        event = json.loads(Payload)
        with self.lock:
            self.events.append(event)
        ctx = event["requestContext"]
        status = 200
        if ctx["eventType"] == "CONNECT" and ctx["authorizer"]["sub"] == "blocked":
            status = 403
        if ctx["eventType"] == "DISCONNECT":
            self.disconnected.set()
        if ctx["routeKey"] == "explode":
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage":"x"}')}
        return {"Payload": io.BytesIO(json.dumps({"statusCode": status}).encode())}

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["requestContext"]["eventType"] == kind]


@pytest.fixture
def front(tmp_path, monkeypatch) -> Any:
    monkeypatch.setattr(ws_front, "REGISTRY", tmp_path)
    routes = {k: "fn" for k in ("$connect", "$disconnect", "$default", "subscribe", "explode")}
    lam = FakeLambda()
    served = ws_front.SocketFront(
        ws_front.SocketApiSpec("abc123", "live", routes), "http://unused", client=lam
    )
    url, management = served.start()
    served.lam, served.url, served.management_url = lam, url, management
    yield served
    served.stop()


def post(front: Any, connection: str, data: bytes, method: str = "POST") -> int:
    request = urllib.request.Request(
        f"{front.management_url}/@connections/{quote(connection, safe='')}",
        data=data if method == "POST" else None,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def wait_for(predicate: Any, timeout_s: float = 10) -> Any:
    done = threading.Event()
    for _ in range(int(timeout_s * 20)):
        found = predicate()
        if found:
            return found
        done.wait(0.05)
    raise AssertionError("timed out")


def test_connect_routes_and_disconnect_like_api_gateway(front):
    socket = connect(f"{front.url}/?token=alice", legacy=True)
    [connected] = front.lam.of("CONNECT")
    ctx = connected["requestContext"]
    assert ctx["authorizer"] == {"principalId": "alice", "sub": "alice"}
    assert connected["queryStringParameters"] == {"token": "alice"}
    assert ctx["stage"] == "live" and ctx["apiId"] == "abc123"
    connection = ctx["connectionId"]
    socket.send(json.dumps({"action": "subscribe", "conversation_id": "c1"}))
    socket.send(json.dumps({"action": "nope"}))
    socket.send("not json")
    messages = wait_for(lambda: len(front.lam.of("MESSAGE")) == 3 and front.lam.of("MESSAGE"))
    assert sorted(m["requestContext"]["routeKey"] for m in messages) == [
        "$default",
        "$default",
        "subscribe",
    ]
    assert {m["requestContext"]["connectionId"] for m in messages} == {connection}
    assert all(m["requestContext"]["authorizer"]["sub"] == "alice" for m in messages)
    # the management API reaches the socket, as post_to_connection does
    assert post(front, connection, b'{"hello": 1}') == 200
    assert json.loads(socket.recv(timeout=10)) == {"hello": 1}
    assert post(front, connection, b"", method="GET") == 200
    socket.close()
    front.lam.disconnected.wait(10)
    assert len(front.lam.of("DISCONNECT")) == 1
    assert post(front, connection, b'{"late": 1}') == 410  # gone: GoneException


def test_a_failed_integration_tells_the_client(front):
    socket = connect(f"{front.url}/?token=alice", legacy=True)
    socket.send(json.dumps({"action": "explode"}))
    assert json.loads(socket.recv(timeout=10))["message"] == "Internal server error"
    socket.close()


def test_refused_connections_never_open(front):
    for token, status in (("", 401), ("a%20b", 401), ("blocked", 403)):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{front.url}/?token={token}", legacy=True)
        assert refused.value.response.status_code == status
    assert front.connections == {}


def test_the_server_can_hang_up(front):
    socket = connect(f"{front.url}/?token=alice", legacy=True)
    [connection] = list(front.connections)
    assert post(front, connection, b"", method="DELETE") == 204
    with pytest.raises(ConnectionClosed):
        socket.recv(timeout=10)
    front.lam.disconnected.wait(10)
    assert len(front.lam.of("DISCONNECT")) == 1
    assert post(front, connection, b"x") == 410


def test_the_emulator_forwards_to_the_registered_front(front, monkeypatch):
    monkeypatch.setattr(ws_management, "REGISTRY", ws_front.REGISTRY)
    socket = connect(f"{front.url}/?token=alice", legacy=True)
    [connection] = list(front.connections)
    quoted = quote(connection, safe="")
    status, _, _ = ws_management.forward("POST", "abc123", f"/@connections/{quoted}", b'"hi"')
    assert status == 200 and json.loads(socket.recv(timeout=10)) == "hi"
    # an API no front serves: the connection cannot exist
    status, headers, _ = ws_management.forward("POST", "other", f"/@connections/{quoted}", b"x")
    assert status == 410 and headers["x-amzn-ErrorType"] == "GoneException"
    assert ws_management.PATH.match(f"/_aws/execute-api/abc123/live/@connections/{quoted}")
    socket.close()
