"""What `terraform apply` created, checked through the AWS APIs of the emulator."""

from __future__ import annotations

import json


def test_table_shape(aws, outputs):
    ddb = aws("dynamodb")
    table = ddb.describe_table(TableName=outputs["table_name"])["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "PK": "HASH",
        "SK": "RANGE",
    }
    [gsi] = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "UserIdIndex"
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
        assert config["DeadLetterConfig"]["TargetArn"].endswith(f"fn_{role}-dlq")


def test_bus_rules_queues_and_topics_exist(aws, outputs):
    events = aws("events")
    rules = events.list_rules(EventBusName=outputs["event_bus_name"])["Rules"]
    names = {r["Name"] for r in rules}
    assert len([n for n in names if not n.startswith("Events-Archive-")]) == 6
    assert f"Events-Archive-{outputs['event_bus_name']}" in names  # the archive's own rule
    sqs = aws("sqs")
    for url in outputs["dead_letter_queue_urls"].values():
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["SqsManagedSseEnabled"] == "true"
        assert json.loads(attrs["RedriveAllowPolicy"]) == {"redrivePermission": "denyAll"}
        assert "events.amazonaws.com" in attrs["Policy"]
    sns = aws("sns")
    for arn in (outputs["alerts_topic_arn"], outputs["approvals_topic_arn"]):
        assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"]


def test_http_api_routes_use_the_jwt_authorizer(aws):
    api = aws("apigatewayv2")
    [item] = [a for a in api.get_apis()["Items"] if a["Name"].endswith("-api")]
    routes = api.get_routes(ApiId=item["ApiId"])["Items"]
    assert {r["RouteKey"] for r in routes} == {
        "POST /conversations/{conversation_id}/messages",
        "GET /conversations/{conversation_id}",
        "GET /users/me/conversations",
        "GET /approvals",
        "POST /approvals/{approval_id}",
    }
    assert {r["AuthorizationType"] for r in routes} == {"JWT"}


def test_inbox_bucket_notifies_agent_executor(aws, outputs):
    s3 = aws("s3")
    config = s3.get_bucket_notification_configuration(Bucket=outputs["inbox_bucket"])
    [notification] = config["LambdaFunctionConfigurations"]
    assert notification["LambdaFunctionArn"].endswith(outputs["function_names"]["agent_executor"])
    block = s3.get_public_access_block(Bucket=outputs["inbox_bucket"])
    assert all(block["PublicAccessBlockConfiguration"].values())


def test_alarms_go_to_the_alerts_topic(aws, outputs):
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix="agentocore-")["MetricAlarms"]
    assert len(alarms) >= 5 * 2 + 12
    assert {a["AlarmActions"][0] for a in alarms} == {outputs["alerts_topic_arn"]}
