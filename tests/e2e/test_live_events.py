"""Live run events through the deployed WebSocket API (the local front over the emulator: the
functions' post_to_connection goes through the emulator's management API to the front)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.live_client import LiveClient

from .conftest import wait_for


def conversation() -> str:
    return f"live-{uuid.uuid4().hex[:12]}"


def test_a_run_streams_numbered_events_then_its_reply(fronts):
    client = LiveClient(fronts.ws_url, fronts.api_url, "alice").connect()
    try:
        cid = conversation()
        subscribed = client.subscribe(cid)
        assert subscribed["backlog"] == 0
        reply = client.run(cid, "What's the status of order A-1001?")
        assert reply["type"] == "reply" and reply["status"] == 200, reply
        records = wait_for(
            lambda: (
                client.applied.get(cid)
                if client.applied.get(cid, [{}])[-1].get("type") == "result"
                else None
            ),
            30,
        )
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        assert records[-1]["text"] == reply["body"]["reply"]
        kinds = [r["type"] for r in records]
        assert "tool_use_start" in kinds and "tool_use_end" in kinds and kinds[-1] == "result"
        assert client.duplicates == 0
        # the same records over HTTP
        over_http = client.read_events(cid)
        assert over_http == [
            {k: v for k, v in r.items() if k != "conversation_id"} for r in records
        ]
    finally:
        client.close()


def test_connecting_needs_an_identity(fronts):
    for url in (f"{fronts.ws_url}/", f"{fronts.ws_url}/?token=", f"{fronts.ws_url}/?token=a%20b"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=30, legacy=True).close()
        assert refused.value.response.status_code == 401


def test_another_user_cannot_listen(fronts, api):
    owner = LiveClient(fronts.ws_url, fronts.api_url, "alice").connect()
    spy = LiveClient(fronts.ws_url, fronts.api_url, "mallory").connect()
    try:
        cid = conversation()
        spy.subscribe(cid)  # before the conversation exists: allowed, hears nothing of alice's
        owner.subscribe(cid)
        assert owner.run(cid, "What's the status of order A-1001?")["status"] == 200
        spy.send({"action": "subscribe", "conversation_id": cid})
        error = spy.wait(lambda m: m.get("type") == "error")
        assert error["status"] == 404
        assert spy.applied == {} and len(owner.applied[cid]) >= 4
    finally:
        owner.close()
        spy.close()


def test_a_closed_socket_ends_its_push_not_the_run(fronts, api):
    cid = conversation()
    socket = connect(f"{fronts.ws_url}/?token=alice", open_timeout=30, legacy=True)
    socket.send(
        json.dumps(
            {
                "action": "sendMessage",
                "conversation_id": cid,
                "message": "What's the status of order A-1001?",
            }
        )
    )
    socket.close()  # before a single event was pushed
    saved = wait_for(
        lambda: (lambda r: r[1] if r[0] == 200 and r[1].get("turns") else None)(
            api.call("GET", f"/conversations/{cid}")
        ),
        60,
    )
    assert "A-1001" in json.dumps(saved["turns"])


def test_forced_reconnects_lose_and_repeat_nothing(fronts, api):
    """The front drops the socket (API Gateway's DELETE @connections) again and again while
    runs stream; the client resumes after its last number each time."""
    client = LiveClient(fronts.ws_url, fronts.api_url, "alice").connect()
    cid = conversation()
    client.subscribe(cid)
    done = threading.Event()

    def runs() -> None:
        for i in range(4):
            status, _ = api.call(
                "POST",
                f"/conversations/{cid}/messages",
                {"message": f"What's the status of order A-100{i % 3 + 1}?", "watch": True},
            )
            assert status == 200
        done.set()

    worker = threading.Thread(target=runs)
    worker.start()
    drops = 0
    try:
        while drops < 8 or not done.is_set():
            time.sleep(0.1)
            for connection in list(fronts.sockets.connections):
                fronts.sockets.close(connection)  # the server side hangs up
            drops += 1
            client.reconnect([cid])
        worker.join()
        client.reconnect([cid])  # whatever came after the last drop
        expected = client.read_events(cid)
        wait_for(lambda: client.last_seq(cid) == expected[-1]["seq"] or None, 30)
        got = [{k: v for k, v in r.items() if k != "conversation_id"} for r in client.applied[cid]]
        assert got == expected  # nothing lost, nothing twice, in order
        assert client.reconnects == drops + 1 and sum(r["type"] == "result" for r in got) == 4
    finally:
        client.close()


def test_the_refund_story_arrives_live_for_user_and_approver(fronts, api):
    """A large refund: the user's socket shows it pending, the approver's socket hears of it,
    the approver decides over HTTP, and the user's socket gets approved then completed."""
    user = LiveClient(fronts.ws_url, fronts.api_url, "alice").connect()
    approver = LiveClient(fronts.ws_url, fronts.api_url, "approver").connect()
    try:
        approver.send({"action": "subscribe", "topic": "approvals"})
        approver.wait(lambda m: m.get("type") == "subscribed" and m.get("topic") == "approvals")
        cid = conversation()
        user.subscribe(cid)
        reply = user.run(cid, "Refund order A-2002, it arrived broken")
        assert reply["status"] == 200, reply
        [action] = reply["body"]["actions"]
        action_id = action["action_id"]

        def status_of(wanted: str):
            return lambda: next(
                (
                    r
                    for r in user.applied.get(cid, [])
                    if r["type"] == "action_status"
                    and r["action_id"] == action_id
                    and r["status"] == wanted
                ),
                None,
            )

        requested = [r for r in user.applied[cid] if r["type"] == "action_requested"]
        assert requested[0]["needs_approval"] is True
        assert wait_for(status_of("pending_approval"), 90)
        heard = approver.wait(
            lambda m: m.get("type") == "approval" and m.get("status") == "pending", 90
        )
        assert heard["conversation_id"] == cid
        status, _ = api.call(
            "POST",
            f"/approvals/{heard['approval_id']}",
            {"decision": "approve", "reason": "checked"},
            user="approver",
        )
        assert status == 200
        assert wait_for(status_of("approved"), 90)["decided_by"] == "approver"
        assert wait_for(status_of("completed"), 90)
        decided = approver.wait(lambda m: m.get("type") == "approval" and m["status"] == "approved")
        assert decided["decided_by"] == "approver"
        seqs = [r["seq"] for r in user.applied[cid]]
        assert seqs == list(range(1, len(seqs) + 1))  # each once, in order
    finally:
        user.close()
        approver.close()


def test_the_console_is_served_beside_the_api(fronts):
    with urllib.request.urlopen(f"{fronts.api_url}/", timeout=10) as page:
        html = page.read().decode()
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "<script" in html and "app.js" in html
    with urllib.request.urlopen(f"{fronts.api_url}/config.json", timeout=10) as config:
        assert json.loads(config.read()) == {"api": "", "ws": fronts.ws_url, "auth": "dev"}
    for path in ("/../README.md", "/%2e%2e/README.md", "/nope.js"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{fronts.api_url}{path}", timeout=10)
        assert missing.value.code == 404
