"""Package hygiene: no AWS client at import time, settings from the environment, action sink."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from agentocore import Settings
from agentocore.config import ConfigError
from agentocore.events import ActionRequest, EventBridgeActionSink


def test_importing_the_package_builds_no_client_and_loads_no_boto3():
    code = (
        "import sys, agentocore, agentocore.memory.store, agentocore.models.bedrock\n"
        "import agentocore.session, agentocore.memory.compaction\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'tiktoken') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_settings_from_environment():
    env = {
        "AGENTOCORE_MODEL": "bedrock:anthropic.claude-3-haiku-20240307-v1:0",
        "AGENTOCORE_MAX_ITERATIONS": "5",
        "AGENTOCORE_PROMPT_CACHING": "false",
        "AGENTOCORE_BUDGET_MAX_USD": "0.5",
        "AGENTOCORE_TABLE_NAME": "t1",
    }
    s = Settings.from_env(env)
    assert s.model.endswith("haiku-20240307-v1:0")
    assert (s.max_iterations, s.prompt_caching, s.budget_max_usd, s.table_name) == (
        5,
        False,
        0.5,
        "t1",
    )
    assert Settings.from_env({}, max_iterations=7).max_iterations == 7


def test_sync_run_settings():
    defaults = Settings.from_env({})
    assert (defaults.sync_budget_s, defaults.sync_reserve_s, defaults.running_stale_s) == (
        25.0,
        8.0,
        900.0,
    )
    s = Settings.from_env(
        {
            "AGENTOCORE_SYNC_BUDGET_S": "0",
            "AGENTOCORE_SYNC_RESERVE_S": "5.5",
            "AGENTOCORE_RUNNING_STALE_S": "600",
        }
    )
    assert (s.sync_budget_s, s.sync_reserve_s, s.running_stale_s) == (0.0, 5.5, 600.0)
    with pytest.raises(ConfigError, match="sync_budget_s"):
        Settings.from_env({"AGENTOCORE_SYNC_BUDGET_S": "-1"})
    with pytest.raises(ConfigError, match="running_stale_s"):
        Settings.from_env({"AGENTOCORE_RUNNING_STALE_S": "0"})


def test_invalid_settings_give_a_clear_error():
    with pytest.raises(ConfigError, match="max_iterations"):
        Settings.from_env({"AGENTOCORE_MAX_ITERATIONS": "1000"})
    with pytest.raises(ConfigError, match="temperature"):
        Settings.from_env({"AGENTOCORE_TEMPERATURE": "hot"})


def test_eventbridge_sink_publishes_action_events():
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        events.create_event_bus(Name="bus")
        queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="big-refunds",
            EventBusName="bus",
            EventPattern=json.dumps(
                {
                    "detail-type": ["ActionRequested"],
                    "detail": {"payload": {"amount": [{"numeric": [">", 1000]}]}},
                }
            ),
        )
        events.put_targets(
            Rule="big-refunds", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}]
        )
        sink = EventBridgeActionSink("bus", client=events)
        sink.publish(
            [
                ActionRequest(
                    type="RefundOrder", action_id="a1", detail={"payload": {"amount": 5000}}
                ),
                ActionRequest(
                    type="RefundOrder", action_id="a2", detail={"payload": {"amount": 50}}
                ),
            ]
        )
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        bodies = [json.loads(m["Body"]) for m in messages]
        assert [b["detail"]["payload"]["amount"] for b in bodies] == [5000]
        assert bodies[0]["source"] == "agentocore.actions"
