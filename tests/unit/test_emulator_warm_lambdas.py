"""Warm Lambda execution environments on the emulator (``localstack/lambda_environments.py``):
an environment initializes its function once and serves many invocations; concurrent
invocations get more environments, up to the reserved concurrency (then throttled); idle ones
expire; a new deployment retires the old ones; a crash or a timeout ends only its environment;
each function keeps its own environment; the log shows a REPORT line per invocation, with the
init duration on cold starts only.

In-process (moto + the emulator's hooks), the functions run for real in runtime processes."""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from .lambda_zip import zip_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))
import emulator
import lambda_environments
import lambda_executor

REGION = "us-east-1"
# Notes its init in INITS; per invocation: waits for the GATE file when the event names one
# (noting "waiting" first), crashes, sleeps or spawns a child when asked, then answers with
# what it saw.
pytestmark = pytest.mark.host  # the emulator and tooling: host Python only (not `make compat`)

HANDLER = """
import json, os, subprocess, time

with open(os.environ["INITS"], "a") as f:
    f.write(f"{os.getpid()}\\n")
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    print(f"invocation {COUNT} of {os.getpid()}")
    if event.get("gate"):
        with open(event["gate"] + ".waiting", "w") as f:
            f.write("")
        deadline = time.monotonic() + 60
        while not os.path.exists(event["gate"]) and time.monotonic() < deadline:
            time.sleep(0.02)
    if event.get("crash"):
        os._exit(3)
    if event.get("child"):
        child = subprocess.Popen(["sleep", "60"])
        with open(event["child"], "w") as f:
            f.write(str(child.pid))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("call_sts"):
        import boto3
        from botocore.config import Config
        try:
            boto3.client("sts", config=Config(connect_timeout=1, retries={"max_attempts": 1})
                        ).get_caller_identity()
        except Exception:
            pass
    return {
        "pid": os.getpid(),
        "count": COUNT,
        "version": os.environ.get("VERSION"),
        "env": {k: os.environ.get(k) for k in ("ONLY_A", "ONLY_B")},
        "request_id": context.aws_request_id,
        "env_request_id": os.environ.get("AGENTOCORE_REQUEST_ID"),
        "stream": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


class Functions:
    """Creates functions running HANDLER and invokes them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lam = boto3.client("lambda", region_name=REGION)
        self.logs = boto3.client("logs", region_name=REGION)
        self.role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="r", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]

    def inits(self, name: str) -> list[int]:
        """PIDs of the environments that initialized ``name``, in order."""
        path = self.root / f"{name}.inits"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def create(self, name: str, timeout: int = 30, **env: str) -> None:
        self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role,
            Handler="handler.handler",
            Code={"ZipFile": zip_of(HANDLER)},
            Timeout=timeout,
            Environment={"Variables": {"INITS": str(self.root / f"{name}.inits"), **env}},
        )

    def invoke(self, name: str, **event: Any) -> dict[str, Any]:
        response = self.lam.invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
        body = json.loads(response["Payload"].read())
        return {"error": response.get("FunctionError"), "body": body, "response": response}

    def hold(self, name: str, tag: str) -> tuple[threading.Thread, Path, dict[str, Any]]:
        """An invocation of ``name`` held busy until the returned gate file exists."""
        gate = self.root / f"gate-{tag}"
        result: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: result.update(self.invoke(name, gate=str(gate))))
        thread.start()
        waiting = Path(f"{gate}.waiting")
        deadline = time.monotonic() + 60
        while not waiting.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting.exists(), "the held invocation never started"
        return thread, gate, result

    def release(self, held: tuple[threading.Thread, Path, dict[str, Any]]) -> dict[str, Any]:
        thread, gate, result = held
        gate.touch()
        thread.join(60)
        return result

    def log_lines(self, name: str) -> tuple[list[str], list[str]]:
        """(stream names, messages) of the function's log group."""
        group = f"/aws/lambda/{name}"
        streams = [
            s["logStreamName"]
            for s in self.logs.describe_log_streams(logGroupName=group)["logStreams"]
        ]
        lines = [
            e["message"]
            for stream in streams
            for e in self.logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        ]
        return streams, lines


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a killed orphan waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def gone(pid: int, within: float = 10.0) -> bool:
    """True once ``pid`` has stopped: SIGKILL takes effect when the process is next scheduled."""
    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not alive(pid)


@pytest.fixture
def fns(tmp_path: Path) -> Iterator[Functions]:
    with mock_aws():
        emulator.apply_hooks()
        yield Functions(tmp_path)
        assert lambda_executor.wait_until_idle(120), "asynchronous invocations still running"
        lambda_environments.shutdown()


def test_an_environment_initializes_once_and_serves_many_invocations(fns: Functions) -> None:
    fns.create("f")
    answers = [fns.invoke("f")["body"] for _ in range(3)]
    assert [a["count"] for a in answers] == [1, 2, 3]  # module state survives
    assert len({a["pid"] for a in answers}) == 1
    assert fns.inits("f") == [answers[0]["pid"]]  # imported once


def test_per_invocation_context_and_request_id(fns: Functions) -> None:
    fns.create("f", timeout=30)
    first, second = fns.invoke("f")["body"], fns.invoke("f")["body"]
    assert first["request_id"] != second["request_id"]
    for answer in (first, second):
        assert answer["env_request_id"] == answer["request_id"]
        assert 0 < answer["remaining_ms"] <= 30_000
    assert first["stream"] == second["stream"]  # one log stream per environment


def test_concurrent_invocations_get_their_own_environments(fns: Functions) -> None:
    fns.create("f")
    held = fns.hold("f", "a")
    other = fns.invoke("f")["body"]
    first = fns.release(held)["body"]
    assert first["pid"] != other["pid"]
    assert sorted(fns.inits("f")) == sorted([first["pid"], other["pid"]])
    # both stay warm: the next invocations reuse them, no third init
    later = {fns.invoke("f")["body"]["pid"] for _ in range(3)}
    assert later <= {first["pid"], other["pid"]}
    assert len(fns.inits("f")) == 2


def test_reserved_concurrency_throttles_sync_invokes(fns: Functions) -> None:
    fns.create("f")
    fns.lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=1)
    held = fns.hold("f", "a")
    with pytest.raises(ClientError) as raised:
        fns.invoke("f")
    error = raised.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Error"]["Message"] == "Rate Exceeded."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert fns.release(held)["error"] is None
    assert fns.invoke("f")["error"] is None  # capacity is back
    fns.lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError, match="TooManyRequestsException"):
        fns.invoke("f")


def test_a_throttled_async_event_is_retried_later(
    fns: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_executor, "THROTTLE_BACKOFF_S", 0.05)
    monkeypatch.setattr(lambda_executor, "THROTTLE_BACKOFF_MAX_S", 0.2)
    fns.create("f")
    fns.lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=1)
    held = fns.hold("f", "a")
    fns.lam.invoke(FunctionName="f", InvocationType="Event", Payload=b"{}")
    fns.release(held)
    assert lambda_executor.wait_until_idle(60)
    # the held invocation, then the event once capacity was back (no retry attempt used)
    assert fns.invoke("f")["body"]["count"] == 3


def test_idle_environments_expire(fns: Functions, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(lambda_environments, "_clock", lambda: now[0])
    fns.create("f")
    pid = fns.invoke("f")["body"]["pid"]
    now[0] += lambda_environments.IDLE_S / 2
    assert lambda_environments.reap() == 0
    assert fns.invoke("f")["body"]["pid"] == pid  # used again: idle from now on
    now[0] += lambda_environments.IDLE_S + 1
    assert lambda_environments.reap() == 1
    assert not alive(pid)
    answer = fns.invoke("f")["body"]
    assert answer["pid"] != pid and answer["count"] == 1
    assert fns.inits("f") == [pid, answer["pid"]]


@pytest.mark.parametrize("change", ["configuration", "code"])
def test_a_new_deployment_retires_the_old_environments(fns: Functions, change: str) -> None:
    fns.create("f", VERSION="1")
    held = fns.hold("f", "a")  # an environment busy during the deployment
    old = fns.invoke("f")["body"]  # and an idle one
    if change == "configuration":
        fns.lam.update_function_configuration(
            FunctionName="f",
            Environment={"Variables": {"INITS": str(fns.root / "f.inits"), "VERSION": "2"}},
        )
    else:
        fns.lam.update_function_code(
            FunctionName="f", ZipFile=zip_of(HANDLER.replace('os.environ.get("VERSION")', '"2"'))
        )
    new = fns.invoke("f")["body"]
    assert new["version"] == "2" and new["count"] == 1
    assert not alive(old["pid"])  # the idle old environment is gone
    busy = fns.release(held)["body"]
    assert busy["version"] == "1"  # the invocation under way finished on the old deployment
    assert not alive(busy["pid"])  # and its environment was retired after it
    after = [fns.invoke("f")["body"] for _ in range(2)]
    assert {a["version"] for a in after} == {"2"}
    assert {a["pid"] for a in after} == {new["pid"]}


def test_a_crash_ends_only_its_environment(fns: Functions) -> None:
    fns.create("f")
    held = fns.hold("f", "a")
    crashed = fns.invoke("f", crash=True)
    assert crashed["error"]  # a function error (moto says "Handled")
    assert crashed["body"]["errorType"] == "Runtime.ExitError"
    survivor = fns.release(held)["body"]  # the other environment went on
    assert fns.invoke("f")["body"]["pid"] == survivor["pid"]
    assert len(fns.inits("f")) == 2


def test_an_environment_that_died_while_idle_is_replaced(fns: Functions) -> None:
    fns.create("f")
    pid = fns.invoke("f")["body"]["pid"]
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    answer = fns.invoke("f")
    assert answer["error"] is None
    assert answer["body"]["pid"] != pid and answer["body"]["count"] == 1


def test_a_timeout_kills_the_environment_and_what_it_started(fns: Functions) -> None:
    fns.create("f", timeout=1)
    first = fns.invoke("f")["body"]
    child_file = fns.root / "child.pid"
    timed_out = fns.invoke("f", child=str(child_file), sleep=30)
    assert timed_out["error"]
    assert timed_out["body"] == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 1 seconds",
    }
    assert not alive(first["pid"])
    assert gone(int(child_file.read_text()))  # the whole process group, once the kill lands
    fresh = fns.invoke("f")["body"]
    assert fresh["pid"] != first["pid"] and fresh["count"] == 1


def test_functions_have_their_own_environments(fns: Functions) -> None:
    fns.create("a", ONLY_A="a")
    fns.create("b", ONLY_B="b")
    a, b = fns.invoke("a")["body"], fns.invoke("b")["body"]
    assert a["env"] == {"ONLY_A": "a", "ONLY_B": None}
    assert b["env"] == {"ONLY_A": None, "ONLY_B": "b"}
    assert a["pid"] != b["pid"]


def test_aws_calls_are_recorded_with_their_function(
    fns: Functions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "aws-calls.jsonl"
    monkeypatch.setenv("AGENTOCORE_AWS_CALL_LOG", str(log))
    closed = "http://127.0.0.1:9"  # nothing answers: the call is recorded before it is sent
    fns.create("a", AWS_ENDPOINT_URL_STS=closed)
    fns.create("b", AWS_ENDPOINT_URL_STS=closed)
    for name in ("a", "b", "a"):
        fns.invoke(name, call_sts=True)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(c["function"], c["operation"]) for c in calls] == [
        ("a", "GetCallerIdentity"),
        ("b", "GetCallerIdentity"),
        ("a", "GetCallerIdentity"),
    ]


def test_report_lines_show_the_init_duration_on_cold_starts_only(fns: Functions) -> None:
    fns.create("f")
    first, second = fns.invoke("f"), fns.invoke("f")
    tail = base64.b64decode(first["response"]["LogResult"]).decode()
    assert "Init Duration:" in tail and "invocation 1 of" in tail
    streams, lines = fns.log_lines("f")
    assert len(streams) == 1  # one environment, one stream
    reports = [line for line in lines if line.startswith("REPORT RequestId: ")]
    assert first["body"]["request_id"] in reports[0]
    assert second["body"]["request_id"] in reports[1]
    assert ["Init Duration:" in r for r in reports] == [True, False]
    for report in reports:
        assert "\tDuration: " in report and "\tBilled Duration: " in report
        assert "\tMemory Size: 128 MB" in report
    assert [line for line in lines if line.startswith("invocation ")] == [
        f"invocation {n} of {first['body']['pid']}" for n in (1, 2)
    ]


def test_shutdown_stops_every_environment(fns: Functions) -> None:
    fns.create("a")
    fns.create("b")
    pids = [fns.invoke(name)["body"]["pid"] for name in ("a", "b")]
    lambda_environments.shutdown()
    assert not any(alive(pid) for pid in pids)
    assert fns.invoke("a")["body"]["count"] == 1  # a new environment afterwards
