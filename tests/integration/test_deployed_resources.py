"""What `terraform apply` created, checked through the AWS APIs of the emulator."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_table_shape(aws, outputs):
    ddb = aws("dynamodb")
    table = ddb.describe_table(TableName=outputs["table_name"])["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "PK": "HASH",
        "SK": "RANGE",
    }
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"UserIdIndex", "OutboxPendingIndex"}
    assert indexes["OutboxPendingIndex"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = ddb.describe_time_to_live(TableName=outputs["table_name"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    backups = ddb.describe_continuous_backups(TableName=outputs["table_name"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_functions_are_configured(aws, outputs):
    lam = aws("lambda")
    for role, name in outputs["function_names"].items():
        config = lam.get_function_configuration(FunctionName=name)
        assert config["TracingConfig"] == {"Mode": "Active"}, role
        assert len(config["Layers"]) == 1
        assert config["Environment"]["Variables"]["AGENTOCORE_TABLE_NAME"] == outputs["table_name"]
        assert (
            config["Environment"]["Variables"]["AGENTOCORE_EVENT_BUS_NAME"]
            == outputs["event_bus_name"]
        )
        # dlq_handler's own failures go to the terminal queue (nobody drains it; it alarms)
        # ws_authorizer is only invoked synchronously (API Gateway): its queue is never used
        sync_only = role in ("dlq_handler", "ws_authorizer")
        own = "unprocessable-dlq" if sync_only else f"fn_{role}-dlq"
        assert config["DeadLetterConfig"]["TargetArn"].endswith(own)
        assert 1 <= config["Timeout"] <= 900 and 128 <= config["MemorySize"] <= 10240
        # HTTP runs hand over to an asynchronous continuation before API Gateway's 30 s
        assert 0 < float(config["Environment"]["Variables"]["AGENTOCORE_SYNC_BUDGET_S"]) < 30


def test_bus_rules_queues_and_topics_exist(aws, outputs):
    events = aws("events")
    rules = events.list_rules(EventBusName=outputs["event_bus_name"])["Rules"]
    names = {r["Name"] for r in rules}
    catalog = json.loads((ROOT / "tests/e2e/e2e_app/catalog.json").read_text())
    action_rules = [r for a in catalog["actions"].values() for r in a["rules"].values()]
    # invocation, invocation_priority, approved, action_progress + the catalog's + the catch-all
    expected = 4 + len(action_rules) + 1
    assert len([n for n in names if not n.startswith("Events-Archive-")]) == expected
    assert f"Events-Archive-{outputs['event_bus_name']}" in names  # the archive's own rule
    sqs = aws("sqs")
    handler = aws("lambda").get_function_configuration(
        FunctionName=outputs["function_names"]["dlq_handler"]
    )
    urls = dict(outputs["dead_letter_queue_urls"])
    terminal = urls.pop("unprocessable")
    terminal_arn = sqs.get_queue_attributes(QueueUrl=terminal, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    for url in urls.values():
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["SqsManagedSseEnabled"] == "true"
        assert json.loads(attrs["RedriveAllowPolicy"]) == {"redrivePermission": "denyAll"}
        assert "events.amazonaws.com" in attrs["Policy"]
        # drained by dlq_handler: visibility >= 6x its timeout, then the terminal queue
        assert int(attrs["VisibilityTimeout"]) >= 6 * handler["Timeout"]
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == terminal_arn
        assert 1 <= int(redrive["maxReceiveCount"]) <= 1000
    attrs = sqs.get_queue_attributes(QueueUrl=terminal, AttributeNames=["All"])["Attributes"]
    assert "RedrivePolicy" not in attrs  # terminal: kept 14 days, alarmed, read by a human
    assert attrs["MessageRetentionPeriod"] == "1209600"
    sns = aws("sns")
    for arn in (outputs["alerts_topic_arn"], outputs["approvals_topic_arn"]):
        assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"]


def test_http_api_routes_use_the_jwt_authorizer(aws, outputs):
    api = aws("apigatewayv2")
    [item] = [a for a in api.get_apis()["Items"] if a["ApiId"] == outputs["api_id"]]
    routes = api.get_routes(ApiId=item["ApiId"])["Items"]
    assert {r["RouteKey"] for r in routes} == {
        "POST /conversations/{conversation_id}/messages",
        "GET /conversations/{conversation_id}",
        "GET /conversations/{conversation_id}/events",
        "GET /users/me/conversations",
        "GET /approvals",
        "POST /approvals/{approval_id}",
    }
    assert {r["AuthorizationType"] for r in routes} == {"JWT"}
    integrations = {
        i["IntegrationId"]: i for i in api.get_integrations(ApiId=item["ApiId"])["Items"]
    }
    for integration in integrations.values():
        assert 50 <= integration["TimeoutInMillis"] <= 30_000  # API Gateway's HTTP API limit
    # decisions are approval_worker's: agent_executor's role cannot write approvals
    served_by = {
        r["RouteKey"]: integrations[r["Target"].removeprefix("integrations/")]["IntegrationUri"]
        for r in routes
    }
    for route, uri in served_by.items():
        function = "approval-worker" if "/approvals" in route else "agent-executor"
        assert f"-{function}" in uri and f"-{function}-" not in uri, (route, uri)


def test_inbox_bucket_notifies_agent_executor(aws, outputs):
    s3 = aws("s3")
    config = s3.get_bucket_notification_configuration(Bucket=outputs["inbox_bucket"])
    [notification] = config["LambdaFunctionConfigurations"]
    assert notification["LambdaFunctionArn"].endswith(outputs["function_names"]["agent_executor"])
    block = s3.get_public_access_block(Bucket=outputs["inbox_bucket"])
    assert all(block["PublicAccessBlockConfiguration"].values())


def test_alarms_go_to_the_alerts_topic(aws, outputs):
    prefix = outputs["table_name"].removesuffix("-memory")  # this workspace's (agentocore-ci)
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]
    assert len(alarms) >= 5 * 2 + 12
    assert {a["AlarmActions"][0] for a in alarms} == {outputs["alerts_topic_arn"]}


def test_inbox_is_tls_only_and_the_bus_uses_the_key(aws, outputs):
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=outputs["inbox_bucket"])["Policy"])
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    bus = aws("events").describe_event_bus(Name=outputs["event_bus_name"])
    key = aws("kms").describe_key(KeyId=bus["KmsKeyIdentifier"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["KeyState"] == "Enabled"
