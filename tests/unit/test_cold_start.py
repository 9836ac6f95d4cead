"""Cold start hygiene: what a handler's import loads, the tracer's choice, the lazy HTTP app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentocore.lambda_http import HttpApp
from agentocore.tracing import NoTracer, function_tracer, tracing_enabled

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/handler.py"))
#: Never loaded by a handler's import with tracing off (event handler: on the first HTTP event;
#: Powertools imports only botocore's small top-level package, for its user agent).
NOT_AT_INIT = (
    "aws_xray_sdk",
    "boto3",
    "botocore.client",
    "aws_lambda_powertools.event_handler",
    "tiktoken",
    "example_app",
)


def _run(code: str, env: dict[str, str], cwd: Path = ROOT) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_"))}
    return {**base, "AWS_REGION": "us-east-1", **extra}


@pytest.mark.parametrize("name", HANDLERS)
def test_a_handler_import_loads_neither_xray_nor_boto3_nor_the_http_resolver(name: str) -> None:
    folder = ROOT / "functions" / name
    code = (
        f"import json, sys; sys.path[:0] = [{str(folder)!r}, {str(ROOT / 'shared')!r}, "
        f"{str(ROOT / 'functions')!r}]; import handler; "
        f"print(json.dumps(sorted(m for m in {NOT_AT_INIT!r} if m in sys.modules)))"
    )
    assert _run(code, _env(POWERTOOLS_TRACE_DISABLED="true"), cwd=folder) == []


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),  # outside Lambda
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "0"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
    ],
)
def test_tracing_follows_powertools_rule(env: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(env) is enabled


def test_tracing_off_is_a_no_op_tracer_whose_decorators_return_the_function() -> None:
    tracer = function_tracer("svc", {"POWERTOOLS_TRACE_DISABLED": "true"})
    assert isinstance(tracer, NoTracer)

    def fn(event: Any, context: Any) -> str:
        return "ok"

    assert tracer.capture_lambda_handler(fn) is fn
    assert tracer.capture_method(fn) is fn
    assert tracer.capture_method(capture_response=False)(fn) is fn
    tracer.put_annotation("k", "v")
    tracer.put_metadata("k", {"v": 1})


def test_tracing_on_patches_botocore_only() -> None:
    code = (
        "import json\n"
        "from agentocore.tracing import function_tracer\n"
        "from aws_xray_sdk.core import patcher\n"
        "import sys\n"
        "tracer = function_tracer('svc')\n"
        "print(json.dumps({'type': type(tracer).__name__, 'auto_patch': tracer.auto_patch,\n"
        "  'patched': sorted(patcher._PATCHED_MODULES),\n"
        "  'loaded': sorted(m for m in ('requests', 'sqlite3') if m in sys.modules)}))\n"
    )
    env = _env(LAMBDA_TASK_ROOT=str(ROOT), AWS_XRAY_CONTEXT_MISSING="LOG_ERROR")
    assert _run(code, env) == {
        "type": "Tracer",
        "auto_patch": False,
        "patched": ["botocore"],
        "loaded": [],
    }


def _http_event(method: str, path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "::1"},
            "requestId": "r1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def test_http_app_registers_routes_declared_before_and_after_it_is_built() -> None:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    builds: list[int] = []

    def build() -> APIGatewayHttpResolver:
        builds.append(1)
        return APIGatewayHttpResolver()

    app = HttpApp(build)

    @app.get("/items/<item_id>")
    def get_item(item_id: str) -> dict[str, str]:
        return {"item": item_id, "path": app.current_event.path}

    assert not app.built and builds == []
    first = app.resolve(_http_event("GET", "/items/7"), None)
    assert app.built and json.loads(first["body"]) == {"item": "7", "path": "/items/7"}

    @app.post("/items")
    def add_item() -> dict[str, str]:
        return {"added": "yes"}

    second = app.resolve(_http_event("POST", "/items"), None)
    assert json.loads(second["body"]) == {"added": "yes"}
    assert app.resolve(_http_event("GET", "/nowhere"), None)["statusCode"] == 404
    assert builds == [1]


def test_http_app_private_names_are_not_delegated() -> None:
    app = HttpApp(lambda: pytest.fail("built for a private attribute"))
    with pytest.raises(AttributeError):
        _ = app._missing
