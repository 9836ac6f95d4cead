"""A local API Gateway (HTTP API, payload v2) in front of the deployed functions on the emulator.

    python localstack/api_front.py [--port 3000] [--api-id ID]

Serves the deployed API's own routes: each route key goes to the function of its integration
(conversations to agent_executor, approvals to approval_worker), read from the emulator's API
Gateway, so the front routes exactly as Terraform configured. Turns HTTP requests into API
Gateway v2 proxy events and invokes the function through the emulator's Lambda API.

Development identity: ``Authorization: Bearer <user id>`` becomes the JWT ``sub`` in the
authorizer context (users in ``AGENTOCORE_DEV_APPROVERS``, default ``approver``, also get the
``approvers`` group). Binds to loopback only.

The web console (``console/``) is served at ``/`` beside the API, with a ``config.json`` naming
the API (this origin) and the local WebSocket front (``--ws-url``), as its static hosting would
on AWS.

As strict as API Gateway about time: a function that has not answered within the integration
timeout (the deployed integration's ``TimeoutInMillis``, at most 30 s) gets ``503 Service
Unavailable`` while the invocation goes on, as on AWS.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parents[1]
#: API Gateway's HTTP API integration limit (and default).
MAX_INTEGRATION_TIMEOUT_MS = 30_000
SERVICE_UNAVAILABLE = b'{"message":"Service Unavailable"}'


@dataclass(frozen=True)
class Route:
    """One route key (``"POST /approvals/{approval_id}"``) and the integration serving it."""

    key: str
    function: str
    timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS

    @property
    def method(self) -> str:
        return self.key.split(" ", 1)[0]

    @property
    def pattern(self) -> re.Pattern[str]:
        template = self.key.split(" ", 1)[1]
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


def match(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        found = route.pattern.match(path)
        if route.method == method and found:
            return route, found.groupdict()
    return None


def proxy_event(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: str | None,
    route_key: str,
    params: dict[str, str],
    user: str,
) -> dict[str, Any]:
    approvers = {
        u.strip() for u in os.environ.get("AGENTOCORE_DEV_APPROVERS", "approver").split(",")
    }
    claims: dict[str, Any] = {"sub": user}
    if user in approvers:
        claims["cognito:groups"] = "[approvers]"
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "queryStringParameters": dict(parse_qsl(query)) or None,
        "pathParameters": params or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


class Front:
    """Invokes each request's function (boto3 client against the emulator)."""

    def __init__(self, routes: list[Route], endpoint: str, client: Any = None) -> None:
        if not routes:
            raise ValueError("the API has no routes")
        self.routes = routes
        # Invocations outlive a timed-out request, as on AWS: they run on this pool.
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="api-invoke")
        self.client = client or emulator_client("lambda", endpoint)

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        found = match(self.routes, method, parts.path)
        if found is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        route, params = found
        auth = headers.get("Authorization", "")
        user = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not user:  # the JWT authorizer answers before the function runs
            return 401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
        event = proxy_event(method, parts.path, parts.query, headers, body, route.key, params, user)
        future = self.pool.submit(
            self.client.invoke, FunctionName=route.function, Payload=json.dumps(event)
        )
        try:
            response = future.result(
                timeout=min(route.timeout_ms, MAX_INTEGRATION_TIMEOUT_MS) / 1000
            )
        except FutureTimeout:
            return 503, {"content-type": "application/json"}, SERVICE_UNAVAILABLE
        payload = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            body_out = {"message": "Internal Server Error", "error": payload.get("errorMessage")}
            return 500, {"content-type": "application/json"}, json.dumps(body_out).encode()
        out_headers = {k.lower(): str(v) for k, v in (payload.get("headers") or {}).items()}
        return (
            int(payload.get("statusCode", 200)),
            out_headers,
            str(payload.get("body", "")).encode(),
        )


def emulator_client(service: str, endpoint: str) -> Any:
    """A boto3 client of the emulator (Lambda: long reads, no retries: an invocation once)."""
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=300, retries={"max_attempts": 1}) if service == "lambda" else None
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


def route_integrations(client: Any, api_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(route key, function name, integration)`` of each route of API Gateway v2 API
    ``api_id`` that has a Lambda integration (one without: API Gateway answers 500; not
    served)."""
    integrations = {
        i["IntegrationId"]: i for i in client.get_integrations(ApiId=api_id).get("Items", [])
    }
    out = []
    for item in client.get_routes(ApiId=api_id).get("Items", []):
        integration = integrations.get(str(item.get("Target", "")).removeprefix("integrations/"))
        if integration is None:
            continue
        uri = integration.get("IntegrationUri", "")  # function ARN or invoke ARN
        function = re.search(r":function:([A-Za-z0-9_-]+)", uri)
        if function is None:
            raise ValueError(f"route {item['RouteKey']}: no Lambda function in {uri!r}")
        out.append((item["RouteKey"], function.group(1), integration))
    return out


def deployed_routes(endpoint: str, api_id: str) -> list[Route]:
    """The routes of the deployed HTTP API ``api_id``: each route key with its integration's
    function and ``TimeoutInMillis`` (API Gateway's 30 s when unset)."""
    client = emulator_client("apigatewayv2", endpoint)
    routes = [
        Route(key, function, int(integration.get("TimeoutInMillis") or MAX_INTEGRATION_TIMEOUT_MS))
        for key, function, integration in route_integrations(client, api_id)
    ]
    return sorted(routes, key=lambda r: r.key)


CONSOLE = ROOT / "console"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


class Console:
    """The console's static files and its ``config.json`` (GET only; no directory listing)."""

    def __init__(self, config: dict[str, Any], root: Path = CONSOLE) -> None:
        self.root = root.resolve()
        self.config = json.dumps(config).encode()

    def get(self, path: str) -> tuple[int, dict[str, str], bytes] | None:
        """The file at ``path``; None when it is not the console's."""
        if path == "/config.json":
            return (
                200,
                {"content-type": "application/json", "cache-control": "no-store"},
                self.config,
            )
        name = "index.html" if path in ("", "/") else path.lstrip("/")
        file = (self.root / name).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            return None
        headers = {
            "content-type": CONTENT_TYPES.get(file.suffix, "application/octet-stream"),
            "cache-control": "no-cache",
            "x-content-type-options": "nosniff",
        }
        if file.suffix == ".html":
            headers["content-security-policy"] = (
                "default-src 'self'; connect-src 'self' ws://127.0.0.1:* http://127.0.0.1:*; "
                "img-src 'self' data:; frame-ancestors 'none'"
            )
        return 200, headers, file.read_bytes()


def make_server(
    front: Front,
    host: str,
    port: int,
    quiet: bool = False,
    console: Console | None = None,
) -> ThreadingHTTPServer:
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"the local API front only binds to loopback, not {host}")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else None
            status, headers, data = front.handle(self.command, self.path, dict(self.headers), body)
            if status == 404 and self.command == "GET" and console is not None:
                found = console.get(urlsplit(self.path).path)
                if found is not None:
                    status, headers, data = found
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, fmt: str, *args: Any) -> None:
            if not quiet:
                sys.stderr.write("api: " + fmt % args + "\n")

    return ThreadingHTTPServer((host, port), Handler)


def output_of(name: str, workspace: str = "local") -> str:
    """An output of a workspace the local stack applied (``.localstack/<ws>-outputs.json``)."""
    outputs = json.loads((ROOT / ".localstack" / f"{workspace}-outputs.json").read_text())
    return str(outputs[name]["value"])


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from emulator import endpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("AGENTOCORE_API_PORT", "3000"))
    )
    parser.add_argument("--api-id", default=None, help="default: the local workspace's API")
    parser.add_argument("--ws-url", default="", help="the console's WebSocket API")
    args = parser.parse_args()
    front = Front(deployed_routes(endpoint(), args.api_id or output_of("api_id")), endpoint())
    console = Console({"api": "", "ws": args.ws_url, "auth": "dev"})
    server = make_server(front, args.host, args.port, console=console)
    print(f"AgentoCore local API on http://{args.host}:{args.port}")
    for route in front.routes:
        print(f"  {route.key} -> {route.function}")
    server.serve_forever()


if __name__ == "__main__":
    main()
