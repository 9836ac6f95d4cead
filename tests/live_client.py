"""A client of the WebSocket API as a browser would use it (the console's protocol): subscribe
with ``after=<last seq>``, drop numbers already applied, fill a gap over HTTP, reconnect and
resume. Used by the e2e tests and benchmarks/live_events.py.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect


class LiveClient:
    """One user's socket; what it applied per conversation, in order, each number once."""

    def __init__(self, ws_url: str, api_url: str, token: str) -> None:
        self.ws_url, self.api_url, self.token = ws_url, api_url, token
        self.applied: dict[str, list[dict[str, Any]]] = {}
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.duplicates = 0  # records received again (dropped: the client's dedupe)
        self.gap_fills = 0
        self.reconnects = 0
        self.socket: ClientConnection | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    # -- the socket -----------------------------------------------------------------------

    def connect(self) -> LiveClient:
        self.socket = connect(f"{self.ws_url}/?token={self.token}", open_timeout=30, legacy=True)
        self._reader = threading.Thread(target=self._read, args=(self.socket,), daemon=True)
        self._reader.start()
        return self

    def _read(self, socket: ClientConnection) -> None:
        try:
            for raw in socket:
                message = json.loads(raw)
                if "seq" in message:
                    self._apply(message)
                else:
                    self.messages.put(message)
        except Exception:
            pass  # closed: the owner reconnects

    def send(self, message: dict[str, Any]) -> None:
        assert self.socket is not None
        self.socket.send(json.dumps(message))

    def subscribe(self, conversation_id: str, timeout_s: float = 30) -> dict[str, Any]:
        with self._lock:
            after = self.last_seq(conversation_id)
        self.send({"action": "subscribe", "conversation_id": conversation_id, "after": after})
        return self.wait(
            lambda m: m.get("type") == "subscribed" and m.get("conversation_id") == conversation_id,
            timeout_s,
        )

    def run(self, conversation_id: str, message: str, timeout_s: float = 120) -> dict[str, Any]:
        """``sendMessage`` with a fresh ``request_id``; its ``reply`` (or ``error``)."""
        request_id = uuid.uuid4().hex
        self.send(
            {
                "action": "sendMessage",
                "conversation_id": conversation_id,
                "message": message,
                "request_id": request_id,
            }
        )
        answer: dict[str, Any] = self.wait(
            lambda m: m.get("request_id") == request_id and m.get("type") in ("reply", "error"),
            timeout_s,
        )
        return answer

    def reconnect(self, conversations: list[str]) -> None:
        """Open a new socket and resume every conversation after the last number applied."""
        self.close()
        self.reconnects += 1
        self.connect()
        for conversation_id in conversations:
            self.subscribe(conversation_id)

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        if self._reader is not None:
            self._reader.join(timeout=10)

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 60) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no such message")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(message):
                return message

    def on_record(self, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    # -- the records ----------------------------------------------------------------------

    def last_seq(self, conversation_id: str) -> int:
        records = self.applied.get(conversation_id) or []
        return records[-1]["seq"] if records else 0

    def _apply(self, record: dict[str, Any]) -> None:
        conversation_id = record["conversation_id"]
        with self._lock:
            last = self.last_seq(conversation_id)
            if record["seq"] <= last:
                self.duplicates += 1
                return
            if record["seq"] > last + 1:  # pushed before the backlog arrived, or too big
                self.gap_fills += 1
                for missed in self.read_events(conversation_id, last):
                    if missed["seq"] < record["seq"]:
                        self._append(
                            conversation_id, {"conversation_id": conversation_id, **missed}
                        )
            self._append(conversation_id, record)

    def _append(self, conversation_id: str, record: dict[str, Any]) -> None:
        self.applied.setdefault(conversation_id, []).append(record)
        for listener in self._listeners:
            listener(record)

    def read_events(self, conversation_id: str, after: int = 0) -> list[dict[str, Any]]:
        """``GET /conversations/{id}/events`` from ``after`` to the end."""
        out: list[dict[str, Any]] = []
        while True:
            request = urllib.request.Request(
                f"{self.api_url}/conversations/{conversation_id}/events?after={after}&limit=1000",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                page = json.loads(response.read())
            out += page["events"]
            after = page["next_after"]
            if not page["more"]:
                return out
