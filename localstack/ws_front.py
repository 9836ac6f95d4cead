"""A local API Gateway WebSocket API in front of the deployed functions on the emulator.

    python localstack/ws_front.py [--port 3001] [--api-id ID]

Serves the deployed WebSocket API's own routes, read from the emulator's API Gateway (route
selection ``$request.body.action``; ``$connect``, ``$disconnect``, ``$default`` and the custom
routes, each to its integration's function), as API Gateway does:

- ``$connect``: the dev identity (``?token=<user id>``, approvers from
  ``AGENTOCORE_DEV_APPROVERS`` as the HTTP front) stands in for the Lambda authorizer's JWT
  check; its context (``principalId``, ``sub``, ``groups``) is in every later event of the
  connection. The integration answering non-2xx refuses the connection (that status).
- each message: routed by its ``action`` (unknown: ``$default``; none: API Gateway's
  ``Forbidden`` answer), the integration invoked on its own thread (a long run never blocks
  the connection's other messages).
- ``$disconnect`` once, whoever closed.
- the management API (``POST``/``GET``/``DELETE /@connections/{id}``, 410 once gone) on its own
  loopback port, registered in ``.localstack/ws-fronts/<api id>.json``: the emulator forwards
  ``/_aws/execute-api/<api id>/<stage>/@connections/...`` there (``ws_management.py``), and
  the local functions' ``AGENTOCORE_WS_ENDPOINT`` points at that path.

Binds to loopback only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ipaddress
import json
import os
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_front import emulator_client, output_of, route_integrations

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / ".localstack" / "ws-fronts"
USER_ID = re.compile(r"^[A-Za-z0-9@._:+-]{1,128}$")
#: API Gateway's frame and message limit for WebSocket APIs.
MAX_MESSAGE_BYTES = 128 * 1024


@dataclass(frozen=True)
class SocketApiSpec:
    """A deployed WebSocket API: its id, stage, and route key -> function."""

    api_id: str
    stage: str
    routes: dict[str, str]
    selection: str = "$request.body.action"


def deployed_socket_api(endpoint: str, api_id: str) -> SocketApiSpec:
    client = emulator_client("apigatewayv2", endpoint)
    api = client.get_api(ApiId=api_id)
    if api.get("ProtocolType") != "WEBSOCKET":
        raise ValueError(f"API {api_id} is not a WebSocket API")
    routes = {key: function for key, function, _ in route_integrations(client, api_id)}
    stages = [s["StageName"] for s in client.get_stages(ApiId=api_id).get("Items", [])]
    if not stages:
        raise ValueError(f"WebSocket API {api_id} has no stage")
    return SocketApiSpec(
        api_id, stages[0], routes, api.get("RouteSelectionExpression") or "$request.body.action"
    )


def dev_authorizer(token: str) -> dict[str, Any] | None:
    """The authorizer context of a dev token (a user id), None when refused."""
    if not USER_ID.match(token):
        return None
    approvers = {
        u.strip() for u in os.environ.get("AGENTOCORE_DEV_APPROVERS", "approver").split(",")
    }
    context: dict[str, Any] = {"principalId": token, "sub": token}
    if token in approvers:
        context["groups"] = "approvers"
    return context


def connection_id() -> str:
    """An id shaped like API Gateway's (12 random bytes, base64)."""
    return base64.b64encode(secrets.token_bytes(12)).decode()


@dataclass
class Connection:
    id: str
    socket: Any
    authorizer: dict[str, Any]
    connected_at: float = field(default_factory=time.time)
    open: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)


class SocketFront:
    """The WebSocket API's connections, routing and management API."""

    def __init__(
        self,
        spec: SocketApiSpec,
        endpoint: str,
        *,
        client: Any = None,
        authorize: Callable[[str], dict[str, Any] | None] = dev_authorizer,
    ) -> None:
        self.spec = spec
        self.authorize = authorize
        self.connections: dict[str, Connection] = {}
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="ws-invoke")
        self.client = client or emulator_client("lambda", endpoint)
        self.server: Any = None
        self.management: ThreadingHTTPServer | None = None

    # -- events and invocations ------------------------------------------------------------

    def event(
        self, conn: Connection, route_key: str, event_type: str, body: str | None = None
    ) -> dict[str, Any]:
        now = time.time()
        return {
            "requestContext": {
                "routeKey": route_key,
                "eventType": event_type,
                "messageDirection": "IN",
                "connectionId": conn.id,
                "connectedAt": int(conn.connected_at * 1000),
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(now * 1000),
                "domainName": "127.0.0.1",
                "stage": self.spec.stage,
                "apiId": self.spec.api_id,
                "authorizer": conn.authorizer,
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": body,
            "isBase64Encoded": False,
        }

    def invoke(self, route_key: str, event: dict[str, Any]) -> dict[str, Any]:
        response = self.client.invoke(
            FunctionName=self.spec.routes[route_key], Payload=json.dumps(event)
        )
        payload = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            return {"statusCode": 500, "error": payload.get("errorMessage")}
        return payload if isinstance(payload, dict) else {"statusCode": 200}

    def route_of(self, body: str) -> str | None:
        """The route key of a message (``$request.body.action``), ``$default`` or None."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        key = data.get("action") if isinstance(data, dict) else None
        if isinstance(key, str) and key in self.spec.routes and not key.startswith("$"):
            return key
        return "$default" if "$default" in self.spec.routes else None

    # -- the WebSocket server ----------------------------------------------------------------

    def process_request(self, socket: Any, request: Any) -> Any:
        """The handshake: authorize, then ``$connect``; a refusal answers before the upgrade."""
        query = dict(parse_qsl(urlsplit(request.path).query))
        authorizer = self.authorize(query.get("token", ""))
        if authorizer is None:
            return socket.respond(401, "Unauthorized\n")
        conn = Connection(connection_id(), socket, authorizer)
        if "$connect" in self.spec.routes:
            event = self.event(conn, "$connect", "CONNECT")
            event["queryStringParameters"] = query or None
            event["headers"] = {k.lower(): v for k, v in request.headers.raw_items()}
            status = int(self.invoke("$connect", event).get("statusCode", 200))
            if not 200 <= status < 300:
                return socket.respond(status if status >= 400 else 403, "Forbidden\n")
        socket.agentocore_connection = conn
        with self._lock:
            self.connections[conn.id] = conn
        return None

    def handler(self, socket: Any) -> None:
        conn: Connection = socket.agentocore_connection
        try:
            for message in socket:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                route = self.route_of(text)
                if route is None:
                    self.pool.submit(self._forbidden, conn)
                    continue
                self.pool.submit(self._dispatch, conn, route, text)
        except Exception:  # a broken socket: $disconnect below
            pass
        finally:
            self.disconnect(conn)

    def _forbidden(self, conn: Connection) -> None:
        self.post(conn.id, json.dumps({"message": "Forbidden", "connectionId": conn.id}).encode())

    def _dispatch(self, conn: Connection, route: str, body: str) -> None:
        try:
            answer = self.invoke(route, self.event(conn, route, "MESSAGE", body))
        except Exception as exc:
            answer = {"statusCode": 500, "error": str(exc)}
        # a route without a route response: API Gateway sends nothing back; on a failed
        # integration it sends its error message to the client
        if int(answer.get("statusCode", 200)) >= 500:
            self.post(
                conn.id,
                json.dumps({"message": "Internal server error", "connectionId": conn.id}).encode(),
            )

    def disconnect(self, conn: Connection) -> None:
        with self._lock:
            if not conn.open:
                return
            conn.open = False
            self.connections.pop(conn.id, None)
        if "$disconnect" in self.spec.routes:
            self.pool.submit(
                self.invoke, "$disconnect", self.event(conn, "$disconnect", "DISCONNECT")
            )

    # -- the management API ------------------------------------------------------------------

    def post(self, connection: str, data: bytes) -> int:
        conn = self.connections.get(connection)
        if conn is None or not conn.open:
            return 410
        if len(data) > MAX_MESSAGE_BYTES:
            return 413
        try:
            conn.socket.send(data.decode("utf-8"))
        except Exception:
            return 410
        return 200

    def close(self, connection: str) -> int:
        conn = self.connections.get(connection)
        if conn is None:
            return 410
        with contextlib.suppress(Exception):
            conn.socket.close()
        self.disconnect(conn)
        return 204

    def info(self, connection: str) -> tuple[int, dict[str, Any]]:
        conn = self.connections.get(connection)
        if conn is None:
            return 410, {"message": "GoneException"}
        return 200, {
            "ConnectedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(conn.connected_at)),
            "Identity": {"SourceIp": "127.0.0.1"},
        }

    def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, str]:
        """Serve on ``port`` (0: any), the management API on another; register it. Returns
        the WebSocket URL and the management URL."""
        from websockets.sync.server import serve

        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"the local WebSocket front only binds to loopback, not {host}")
        self.server = serve(
            self.handler,
            host,
            port,
            process_request=self.process_request,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.management = management_server(self, host)
        threading.Thread(target=self.management.serve_forever, daemon=True).start()
        ws_port = self.server.socket.getsockname()[1]
        management = f"http://{host}:{self.management.server_address[1]}"
        REGISTRY.mkdir(parents=True, exist_ok=True)
        (REGISTRY / f"{self.spec.api_id}.json").write_text(
            json.dumps({"management": management, "pid": os.getpid()})
        )
        return f"ws://{host}:{ws_port}", management

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            entry = REGISTRY / f"{self.spec.api_id}.json"
            if json.loads(entry.read_text()).get("pid") == os.getpid():
                entry.unlink()
        for conn in list(self.connections.values()):
            self.close(conn.id)
        if self.server is not None:
            self.server.shutdown()
        if self.management is not None:
            self.management.shutdown()
        self.pool.shutdown(wait=True, cancel_futures=False)


def management_server(front: SocketFront, host: str) -> ThreadingHTTPServer:
    """``/@connections/{id}``: POST sends, GET describes, DELETE closes; 410 once gone."""
    pattern = re.compile(r"^(?:/[^@][^/]*)?/@connections/([^/?]+)$")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if status == 410:
                self.send_header("x-amzn-ErrorType", "GoneException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _connection(self) -> str | None:
            from urllib.parse import unquote

            found = pattern.match(urlsplit(self.path).path)
            return unquote(found.group(1)) if found else None

        def do_POST(self) -> None:
            connection = self._connection()
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            if connection is None:
                return self._answer(404, {"message": "Not Found"})
            status = front.post(connection, data)
            self._answer(status, {"message": "GoneException"} if status == 410 else None)

        def do_GET(self) -> None:
            connection = self._connection()
            if connection is None:
                return self._answer(404, {"message": "Not Found"})
            self._answer(*front.info(connection))

        def do_DELETE(self) -> None:
            connection = self._connection()
            if connection is None:
                return self._answer(404, {"message": "Not Found"})
            status = front.close(connection)
            self._answer(status, {"message": "GoneException"} if status == 410 else None)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, 0), Handler)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from emulator import endpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("AGENTOCORE_WS_PORT", "3001"))
    )
    parser.add_argument("--api-id", default=None, help="default: the local workspace's API")
    args = parser.parse_args()
    spec = deployed_socket_api(endpoint(), args.api_id or output_of("websocket_api_id"))
    front = SocketFront(spec, endpoint())
    url, management = front.start(args.host, args.port)
    print(f"AgentoCore local WebSocket API on {url} (management {management})")
    for key, function in sorted(spec.routes.items()):
        print(f"  {key} -> {function}")
    try:
        threading.Event().wait()
    finally:
        front.stop()


if __name__ == "__main__":
    main()
