"""API Gateway's management API of WebSocket APIs, on the emulator's port.

A function posts to the stage's management endpoint (``https://<api id>.execute-api.<region>.
amazonaws.com/<stage>`` on AWS; with ``AWS_ENDPOINT_URL`` pointing at the emulator,
``http://127.0.0.1:4566/_aws/execute-api/<api id>/<stage>``, LocalStack's path form:
``agentocore.stream.push.emulated_endpoint``). Requests
to ``/_aws/execute-api/<api id>/<stage>/@connections/<id>`` are forwarded to the local
WebSocket front serving that API (``ws_front.py`` registers its management port in
``.localstack/ws-fronts/<api id>.json``). No front serving it: the connection cannot exist,
410 ``GoneException``, as AWS answers for a closed connection.

Installed by ``emulator.apply_hooks()``.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REGISTRY = Path(__file__).resolve().parents[1] / ".localstack" / "ws-fronts"
PATH = re.compile(
    r"^/_aws/execute-api/(?P<api>[A-Za-z0-9]+)/(?P<stage>[^/]+)(?P<rest>/@connections/[^/]+)$"
)


def forward(method: str, api: str, rest: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    gone = (
        410,
        {"Content-Type": "application/json", "x-amzn-ErrorType": "GoneException"},
        json.dumps({"message": "GoneException"}).encode(),
    )
    try:
        front = json.loads((REGISTRY / f"{api}.json").read_text())["management"]
    except (OSError, ValueError, KeyError):
        return gone
    request = urllib.request.Request(front + rest, data=body or None, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
    except (urllib.error.URLError, OSError):  # the front is gone
        return gone


def install() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_agentocore_ws", False):
        return
    original = DomainDispatcherApplication.__call__

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        # the raw path: a connection id is base64 (its "/" arrives as %2F)
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        found = PATH.match(raw.split("?", 1)[0])
        if found is None:
            return original(self, environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, headers, data = forward(
            environ["REQUEST_METHOD"], found.group("api"), found.group("rest"), body
        )
        keep = {"content-type", "x-amzn-errortype"}
        out = [(k, v) for k, v in headers.items() if k.lower() in keep]
        out.append(("Content-Length", str(len(data))))
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", out)
        return [data]

    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
    DomainDispatcherApplication._agentocore_ws = True  # type: ignore[attr-defined]
