"""The load test's pieces without a server: the user behaviour (messages the rules model
understands, the task weights, failures), the step schedule, Locust's CSVs and the chart."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agentocore.models.rules import RulesModel

pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


behaviour = load("load_behaviour", ROOT / "benchmarks" / "load" / "behaviour.py")
load_test = load("load_test", ROOT / "benchmarks" / "load_test.py")
EXAMPLE_TOOLS = ["get_order_status", "get_weather", "trigger_refund", "track_shipment"]


def tool_called(message: str) -> str | None:
    request: Any = {
        "messages": [{"role": "user", "content": [{"text": message}]}],
        "toolConfig": {"tools": [{"toolSpec": {"name": n}} for n in EXAMPLE_TOOLS]},
    }
    reply = RulesModel().converse(request)
    calls = [b["toolUse"]["name"] for b in reply["output"]["message"]["content"] if "toolUse" in b]
    return calls[0] if len(calls) == 1 else None


@pytest.mark.parametrize(("name", "message", "weight", "tool"), behaviour.MESSAGES)
def test_every_message_is_one_tool_call_of_the_rules_model(
    name: str, message: str, weight: int, tool: str
) -> None:
    assert weight > 0
    assert tool_called(message) == tool


def test_the_mix_covers_order_status_weather_and_refund() -> None:
    tools = {m[3] for m in behaviour.MESSAGES}
    assert tools == {"get_order_status", "get_weather", "trigger_refund"}


def test_the_locustfile_weights_its_tasks_by_the_mix() -> None:
    # In a subprocess: importing locust monkey-patches this process with gevent.
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import locustfile as f; "
        "u = f.ConversationUser; "
        "print(json.dumps({'tasks': [t.__name__ for t in u.tasks], "
        "'wait': [u.wait_time(None) for _ in range(200)]}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "AGENTOCORE_LOAD_WAIT_S"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "benchmarks" / "load")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert Counter(found["tasks"]) == {name: weight for name, _, weight, _ in behaviour.MESSAGES}
    assert all(1 <= w <= 3 for w in found["wait"])


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, {"status": "completed", "reply": "ok"}, None),
        (202, {"status": "running", "invocation_id": "i"}, None),
        (200, {"status": "failed"}, "HTTP 200 run failed"),
        (200, {"status": "budget_exceeded"}, "HTTP 200 run budget_exceeded"),
        (429, {"error": {"code": "budget_exceeded"}}, "HTTP 429 budget_exceeded"),
        (409, {"error": {"code": "conversation_busy"}}, "HTTP 409 conversation_busy"),
        (503, {"message": "Service Unavailable"}, "HTTP 503 error"),
    ],
)
def test_failures_are_non_2xx_and_failed_runs(
    status: int, body: dict[str, Any], reason: str | None
) -> None:
    assert behaviour.failure_reason(status, json.dumps(body).encode()) == reason


def test_an_unreadable_or_missing_answer_is_a_failure() -> None:
    assert behaviour.failure_reason(502, b"<html>bad gateway</html>") == "HTTP 502 error"
    assert behaviour.failure_reason(0, None) == "no answer (connection error or timeout)"
    assert behaviour.failure_reason(200, b"not json") is None


def test_identity_is_the_jwt_when_given_else_the_dev_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGENTOCORE_JWT", raising=False)
    assert behaviour.authorization("load-user-1") == "Bearer load-user-1"
    monkeypatch.setenv("AGENTOCORE_JWT", "eyJ.a.b")
    assert behaviour.authorization("load-user-1") == "Bearer eyJ.a.b"


def test_wait_bounds_default_to_the_seeds_one_to_three_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGENTOCORE_LOAD_WAIT_S", raising=False)
    assert behaviour.wait_bounds() == (1.0, 3.0)
    monkeypatch.setenv("AGENTOCORE_LOAD_WAIT_S", "0,0")
    assert behaviour.wait_bounds() == (0.0, 0.0)
    assert behaviour.wait_bounds("0.5, 2") == (0.5, 2.0)
    for bad in ("3,1", "-1,2", "2"):
        with pytest.raises(ValueError):
            behaviour.wait_bounds(bad)


def test_schedule() -> None:
    assert load_test.schedule() == [1, 5, 10, 20, 50]
    assert load_test.schedule(quick=True) == [1, 5]
    assert load_test.schedule("10, 1,5,5") == [1, 5, 10]
    assert load_test.schedule([3]) == [3]
    for bad in ("0,5", "", f"{load_test.MAX_USERS + 1}"):
        with pytest.raises(ValueError):
            load_test.schedule(bad)


def test_spawn_rate_starts_every_step_within_about_five_seconds() -> None:
    assert [load_test.spawn_rate(u) for u in (1, 5, 10, 20, 50, 200)] == [1, 1, 2, 4, 10, 10]


def test_the_locust_command_is_headless_bounded_and_keeps_csv(tmp_path: Path) -> None:
    command = load_test.locust_command(20, 45, "http://127.0.0.1:3000", tmp_path / "s")
    joined = " ".join(command)
    for flag in ("--headless", "--reset-stats", "--users 20", "--run-time 45s", "--csv"):
        assert flag in joined
    assert command[command.index("--host") + 1] == "http://127.0.0.1:3000"


def test_hosts_are_a_stage_with_a_jwt_or_loopback() -> None:
    stage = "https://abc.execute-api.us-east-1.amazonaws.com/"
    assert load_test.check_host(stage, "jwt") == stage.rstrip("/")
    assert load_test.check_host("http://127.0.0.1:3000", "") == "http://127.0.0.1:3000"
    assert load_test.check_host("http://localhost:3000", "") == "http://localhost:3000"
    for host, jwt in ((stage, ""), ("http://10.0.0.5:3000", ""), ("ftp://x", "j")):
        with pytest.raises(ValueError):
            load_test.check_host(host, jwt)


STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


def write_locust_csvs(folder: Path, users: int, p50: int, rps: float, failures: int) -> Path:
    stats = folder / f"u{users}_stats.csv"
    stats.write_text(
        STATS_HEADER + "\n"
        f"POST,weather,10,0,{p50},{p50},1,900,300,{rps / 2},0,{p50},1,1,1,1,{p50 * 2},1,"
        f"{p50 * 3},1,1,900\n"
        f",Aggregated,{20 + failures},{failures},{p50},{p50},1,900,300,{rps},0,{p50},1,1,1,1,"
        f"{p50 * 2},1,{p50 * 3},1,1,900\n"
    )
    with (folder / f"u{users}_failures.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Method", "Name", "Error", "Occurrences"])
        if failures:
            writer.writerow(["POST", "refund", "HTTP 503 error", failures - 1])
            writer.writerow(["POST", "weather", "HTTP 503 error", 1])
    return stats


def test_read_step_takes_the_aggregated_row_and_sums_failure_reasons(tmp_path: Path) -> None:
    stats = write_locust_csvs(tmp_path, 10, 120, 9.5, 3)
    step = load_test.read_step(10, stats, tmp_path / "u10_failures.csv")
    assert step == load_test.StepStats(10, 23, 3, 9.5, 120, 240, 360, {"HTTP 503 error": 3})


def test_read_step_without_an_aggregated_row_fails(tmp_path: Path) -> None:
    stats = tmp_path / "empty_stats.csv"
    stats.write_text(STATS_HEADER + "\n")
    with pytest.raises(ValueError, match="Aggregated"):
        load_test.read_step(1, stats)


def test_chart_summary_and_table_from_synthetic_steps(tmp_path: Path) -> None:
    steps = [
        load_test.read_step(
            u, write_locust_csvs(tmp_path, u, p, r, f), tmp_path / f"u{u}_failures.csv"
        )
        for u, p, r, f in ((1, 90, 0.5, 0), (5, 110, 2.4, 0), (50, 900, 14.0, 2))
    ]
    chart = tmp_path / "out" / "load.png"
    load_test.write_chart(steps, chart, "synthetic", mean_wait_s=2.0)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"
    load_test.write_summary(steps, tmp_path / "s.json", {"model": "rules:v1"})
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["model"] == "rules:v1"
    assert [s["users"] for s in summary["steps"]] == [1, 5, 50]
    rows = load_test.table(steps).splitlines()
    assert rows[2] == "| 1 | 20 | 0.50 | 90 | 180 | 270 | 0 |"
    assert rows[-1] == "| 50 | 22 | 14.00 | 900 | 1800 | 2700 | 2 (2 HTTP 503 error) |"
