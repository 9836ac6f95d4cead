"""The local API front answers like API Gateway's HTTP API, the 30 s limit included."""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import api_front

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)


class FakeLambda:
    """Stands in for the emulator's Lambda API: answers after ``release`` is set."""

    def __init__(self, wait: bool) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()
        self.wait = wait
        self.calls = 0

    def invoke(self, FunctionName: str, Payload: str) -> dict:
        self.calls += 1
        if self.wait:
            self.release.wait(5)
        self.finished.set()
        body = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}
        return {"Payload": io.BytesIO(json.dumps(body).encode())}


ROUTES = ["POST /conversations/{conversation_id}/messages", "GET /conversations/{conversation_id}"]


def front(client: FakeLambda, timeout_ms: int) -> api_front.Front:
    routes = [api_front.Route(key, "fn", timeout_ms) for key in ROUTES]
    return api_front.Front(routes, "http://127.0.0.1:1", client=client)


def test_a_function_slower_than_the_integration_timeout_gets_503_and_keeps_running():
    client = FakeLambda(wait=True)
    status, _, body = front(client, timeout_ms=50).handle(
        "POST", "/conversations/c1/messages", {"Authorization": "Bearer alice"}, '{"message":"x"}'
    )
    assert status == 503
    assert json.loads(body) == {"message": "Service Unavailable"}
    assert not client.finished.is_set()  # the invocation goes on, as on AWS
    client.release.set()
    assert client.finished.wait(5)


def test_an_answer_in_time_passes_through():
    client = FakeLambda(wait=False)
    status, headers, _ = front(client, timeout_ms=5000).handle(
        "GET", "/conversations/c1", {"Authorization": "Bearer alice"}, None
    )
    assert status == 200 and headers["content-type"] == "application/json"


def test_each_route_goes_to_its_integrations_function():
    client = FakeLambda(wait=False)
    routes = [
        api_front.Route("GET /conversations/{conversation_id}", "agent"),
        api_front.Route("POST /approvals/{approval_id}", "approvals"),
    ]
    invoked = []
    client.invoke = lambda FunctionName, Payload: (  # type: ignore[method-assign]
        invoked.append((FunctionName, json.loads(Payload)["pathParameters"]))
        or {"Payload": io.BytesIO(b'{"statusCode": 200}')}
    )
    f = api_front.Front(routes, "http://127.0.0.1:1", client=client)
    auth = {"Authorization": "Bearer alice"}
    assert f.handle("POST", "/approvals/a-1", auth, "{}")[0] == 200
    assert f.handle("GET", "/conversations/c1", auth, None)[0] == 200
    assert f.handle("GET", "/approvals", auth, None)[0] == 404  # not a deployed route
    assert invoked == [("approvals", {"approval_id": "a-1"}), ("agent", {"conversation_id": "c1"})]


def test_no_identity_is_refused_before_the_function_runs():
    client = FakeLambda(wait=False)
    status, _, _ = front(client, timeout_ms=5000).handle("GET", "/conversations/c1", {}, None)
    assert status == 401 and client.calls == 0
