"""Secrets for tools: Secrets Manager via Powertools Parameters (moto in-process), TTL cache,
clear tool errors, and a value that never reaches logs or the model."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from agentocore import Agent, create_model
from agentocore.secrets import SecretError, secret, secret_ids, ttl_s
from agentocore.tools import ToolContext

VALUE = "sk-carrier-7f3a9c-DO-NOT-LEAK"
NAME = "agentocore-test/tools/carrier_api"


class Clock(datetime):
    """Powertools' cache clock (``datetime.now`` in its base module), moved by hand."""

    current = datetime(2025, 1, 1, 12, 0, 0)

    @classmethod
    def now(cls, tz: Any = None) -> Clock:  # type: ignore[override]
        return cls.current  # type: ignore[return-value]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> type[Clock]:
    from aws_lambda_powertools.utilities.parameters import base

    monkeypatch.setattr(Clock, "current", datetime(2025, 1, 1, 12, 0, 0))
    monkeypatch.setattr(base, "datetime", Clock)
    return Clock


@pytest.fixture
def fresh_provider() -> Iterator[None]:
    """Powertools keeps one provider (client + cache) per process: none leaks across tests."""
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    DEFAULT_PROVIDERS.pop("secrets", None)
    yield
    DEFAULT_PROVIDERS.pop("secrets", None)


@pytest.fixture
def sm(fresh_provider: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Moto Secrets Manager holding the carrier key, encrypted with a customer managed key."""
    with mock_aws():
        key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name=NAME, SecretString=VALUE, KmsKeyId=key)["ARN"]
        monkeypatch.setenv("AGENTOCORE_SECRETS", json.dumps({"carrier_api": arn}))
        monkeypatch.delenv("AGENTOCORE_SECRETS_TTL_S", raising=False)
        yield client


def get_calls() -> list[str]:
    """Counts GetSecretValue calls of Powertools' (already built) provider client."""
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    calls: list[str] = []
    DEFAULT_PROVIDERS["secrets"].client.meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **_: calls.append("get")
    )
    return calls


# --- the helper --------------------------------------------------------------------------------


def test_reads_a_kms_encrypted_secret_by_its_logical_name(sm: Any) -> None:
    assert secret("carrier_api") == VALUE


def test_value_is_cached_for_the_ttl_then_read_again(sm: Any, clock: type[Clock]) -> None:
    assert secret("carrier_api") == VALUE
    calls = get_calls()
    sm.put_secret_value(SecretId=NAME, SecretString="rotated")
    clock.current += timedelta(seconds=299)
    assert secret("carrier_api") == VALUE and calls == []  # default TTL 300 s
    clock.current += timedelta(seconds=2)
    assert secret("carrier_api") == "rotated" and calls == ["get"]


def test_ttl_comes_from_the_environment(
    sm: Any, clock: type[Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTOCORE_SECRETS_TTL_S", "10")
    secret("carrier_api")
    calls = get_calls()
    clock.current += timedelta(seconds=10)
    secret("carrier_api")
    assert calls == []
    clock.current += timedelta(seconds=1)
    secret("carrier_api")
    assert calls == ["get"]
    monkeypatch.setenv("AGENTOCORE_SECRETS_TTL_S", "0")  # no cache: every call reads
    secret("carrier_api")
    secret("carrier_api")
    assert calls == ["get"] * 3


def test_unmapped_name_fails_before_any_aws_call(
    fresh_provider: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTOCORE_SECRETS", raising=False)
    with pytest.raises(SecretError, match="secret 'carrier_api' is not configured"):
        secret("carrier_api")
    monkeypatch.setenv("AGENTOCORE_SECRETS", '{"other": "x"}')
    with pytest.raises(SecretError, match="no 'carrier_api' in AGENTOCORE_SECRETS"):
        secret("carrier_api")
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    assert "secrets" not in DEFAULT_PROVIDERS  # nothing was built


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "AGENTOCORE_SECRETS is not JSON"),
        ('["carrier_api"]', "must map logical names"),
        ('{"carrier_api": ""}', "must map logical names"),
        ('{"carrier_api": 7}', "must map logical names"),
    ],
)
def test_malformed_map_is_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(SecretError, match=message):
        secret_ids({"AGENTOCORE_SECRETS": raw})


def test_ttl_setting_is_validated() -> None:
    assert ttl_s({}) == 300 and ttl_s({"AGENTOCORE_SECRETS_TTL_S": "0"}) == 0
    for raw in ("five", "-1", "1.5"):
        with pytest.raises(SecretError, match="AGENTOCORE_SECRETS_TTL_S"):
            ttl_s({"AGENTOCORE_SECRETS_TTL_S": raw})


def test_missing_and_deleted_secrets_are_not_found_or_unreadable(
    sm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTOCORE_SECRETS", json.dumps({"carrier_api": "no-such-secret"}))
    with pytest.raises(SecretError, match=r"^secret 'carrier_api' is not found$"):
        secret("carrier_api")
    monkeypatch.setenv("AGENTOCORE_SECRETS", json.dumps({"carrier_api": NAME}))
    sm.delete_secret(SecretId=NAME)  # scheduled for deletion: AWS refuses reads
    with pytest.raises(SecretError) as raised:
        secret("carrier_api")
    assert str(raised.value) == "secret 'carrier_api' is not readable (deleted or disabled)"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("AccessDeniedException", "access denied"),
        ("DecryptionFailure", "cannot be decrypted"),
        ("ThrottlingException", "unavailable"),
    ],
)
def test_service_errors_become_tool_errors(
    fresh_provider: None, monkeypatch: pytest.MonkeyPatch, code: str, reason: str
) -> None:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    client = boto3.client("secretsmanager", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("get_secret_value", code, "User arn:aws:iam::1:role/x is not allowed")
    stub.activate()
    DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=client)
    monkeypatch.setenv("AGENTOCORE_SECRETS", json.dumps({"carrier_api": NAME}))
    with pytest.raises(SecretError) as raised:
        secret("carrier_api")
    assert str(raised.value) == f"secret 'carrier_api' is {reason}"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_binary_secret_is_refused(sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sm.create_secret(Name="binary", SecretBinary=b"\x00\x01")
    monkeypatch.setenv("AGENTOCORE_SECRETS", json.dumps({"carrier_api": "binary"}))
    with pytest.raises(SecretError, match="empty or not a string"):
        secret("carrier_api")


def test_the_core_imports_without_powertools() -> None:
    code = (
        "import sys, agentocore, agentocore.secrets\n"
        "assert 'aws_lambda_powertools' not in sys.modules, 'powertools imported'\n"
        "assert 'boto3' not in sys.modules, 'boto3 imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the example tool through the loop -------------------------------------------------------


def run(text: str) -> Any:
    from example_app import tools

    agent = Agent(create_model("rules:v1"), tools())
    return agent.run(text, context=ToolContext(conversation_id="c1", user_id="u1"))


def test_track_shipment_signs_with_the_secret_and_never_shows_it(
    sm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore logs response bodies at DEBUG
    result = run("Can you track order A-3003?")
    [call] = result.tool_calls
    assert (call.name, call.status) == ("track_shipment", "success")
    code = "EP" + hmac.new(VALUE.encode(), b"A-3003", hashlib.sha256).hexdigest()[:12].upper()
    assert result.final_text == (
        f"Order A-3003 (shipped) travels with Example Parcel Co., tracking code {code}."
    )
    assert any("GetSecretValue" in r.getMessage() for r in caplog.records)  # DEBUG was on
    assert VALUE not in json.dumps(result.messages, default=str)
    assert VALUE not in caplog.text
    assert all(VALUE not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [
        ({}, "secret 'carrier_api' is not configured"),
        ({"carrier_api": "missing"}, "secret 'carrier_api' is not found"),
    ],
)
def test_track_shipment_without_its_secret_is_a_tool_error(
    sm: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    secrets: dict[str, str],
    expected: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AGENTOCORE_SECRETS", json.dumps(secrets))
    result = run("Tracking code for A-1001 please")
    assert result.status == "completed"
    [call] = result.tool_calls
    assert (call.name, call.status) == ("track_shipment", "error")
    assert expected in result.final_text
    tool_result = result.messages[-2]["content"][0]["toolResult"]
    assert tool_result["status"] == "error" and expected in json.dumps(tool_result)
    assert VALUE not in caplog.text and VALUE not in json.dumps(result.messages, default=str)


def test_track_shipment_checks_the_order_before_the_secret(fresh_provider: None) -> None:
    result = run("Track A-4004")  # processing: nothing shipped, no secret needed
    assert "has not shipped yet" in result.final_text
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    assert "secrets" not in DEFAULT_PROVIDERS
