"""Records every AWS API call a local Lambda process makes, as IAM would authorize it.

``lambda_bootstrap.py`` calls :func:`install` when ``AGENTOCORE_AWS_CALL_LOG`` names a file
(``lambda_executor.py`` passes it on). A botocore ``before-parameter-build`` hook on every
session appends one JSON line per API call:

    {"function", "service", "operation", "requests": [{"action", "resource", "context"}]}

``requests`` are the authorizations the call needs: a TransactWriteItems is one request per
element (PutItem / UpdateItem / DeleteItem / ConditionCheckItem), a PutEvents one per bus with
the ``events:source`` / ``events:detail-type`` of its entries, DynamoDB item calls carry
``dynamodb:LeadingKeys`` (the partition-key values, from the table's key schema: one
DescribeTable per table and process, itself not recorded), a Query on an index the index ARN
and the index's hash-key value. A call this module cannot map gets ``"unmapped": true`` so that
the check reports it instead of passing it silently. ``localstack/aws_call_check.py`` evaluates
the file against the applied role policies.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ENV = "AGENTOCORE_AWS_CALL_LOG"
ACCOUNT = os.environ.get("AGENTOCORE_ACCOUNT_ID", "123456789012")

IamRequest = dict[str, Any]

_local = threading.local()
_schemas: dict[str, dict[str, str | None]] = {}  # table name -> {"": table hash, index: hash}


def install(path: str) -> None:
    """Hook every botocore session created from now on (call before the handler is imported)."""
    import botocore.session

    original = botocore.session.Session.__init__
    if getattr(original, "_agentocore_call_log", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-parameter-build", _handler(path))
        # the management API's resource is its endpoint's stage: known once the URL is built
        self.register("before-call.apigatewaymanagementapi", _management_handler(path))

    __init__._agentocore_call_log = True  # type: ignore[attr-defined]
    botocore.session.Session.__init__ = __init__  # type: ignore[method-assign]


def _handler(path: str) -> Callable[..., None]:
    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if getattr(_local, "busy", False):  # our own DescribeTable
            return
        service = model.service_model.service_name
        if service == "apigatewaymanagementapi":  # recorded before the call (its URL)
            return
        entry: dict[str, Any] = {
            "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            "service": service,
            "operation": model.name,
        }
        try:
            requests = iam_requests(service, model.name, params)
        except Exception as exc:  # recording must never break the function
            requests, entry["error"] = None, f"{type(exc).__name__}: {exc}"
        if requests is None:
            entry["unmapped"] = True
            entry["requests"] = []
        else:
            entry["requests"] = requests
        _write(path, entry)

    return record


def _management_handler(path: str) -> Callable[..., None]:
    """PostToConnection/GetConnection/DeleteConnection -> execute-api:ManageConnections on
    ``<api id>/<stage>/<METHOD>/@connections/<id>`` of the URL the call goes to."""

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        url = str(params.get("url", ""))
        found = re.search(
            r"/_aws/execute-api/([^/]+)/([^/]+)/@connections/([^/?]+)"
            r"|https://([^.]+)\.execute-api\.[^/]+/([^/]+)/@connections/([^/?]+)",
            url,
        )
        entry: dict[str, Any] = {
            "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            "service": "apigatewaymanagementapi",
            "operation": model.name,
            "requests": [],
        }
        if found is None:
            entry["unmapped"] = True
        else:
            api, stage, quoted = [g for g in found.groups() if g is not None]
            connection = urllib.parse.unquote(quoted)
            method = str(params.get("method", "POST")).upper()
            resource = _arn("execute-api", f"{api}/{stage}/{method}/@connections/{connection}")
            entry["requests"] = [
                {"action": "execute-api:ManageConnections", "resource": resource, "context": {}}
            ]
        _write(path, entry)

    return record


def _write(path: str, entry: dict[str, Any]) -> None:
    line = (json.dumps(entry, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write per line: lines of concurrent processes never mix
    finally:
        os.close(fd)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _arn(service: str, resource: str, region: str | None = None) -> str:
    return f"arn:aws:{service}:{_region() if region is None else region}:{ACCOUNT}:{resource}"


# ---------------------------------------------------------------------------------------------
# DynamoDB


def _value(attr: Any) -> str:
    """A key attribute's value as IAM sees it (the string of an S/N/B value)."""
    if isinstance(attr, Mapping) and len(attr) == 1:
        ((kind, value),) = attr.items()
        if kind in ("S", "N", "B"):
            return value.decode() if isinstance(value, bytes) else str(value)
    return str(attr)


def _table(name: str) -> tuple[str, str]:
    """(table name, table ARN) for a TableName that may be an ARN."""
    if name.startswith("arn:"):
        return name.split(":table/", 1)[1].split("/", 1)[0], name
    return name, _arn("dynamodb", f"table/{name}")


def _schema(table: str) -> dict[str, str | None]:
    """Hash-key attribute of the table ("") and of each index, from DescribeTable."""
    if table not in _schemas:
        import botocore.session

        _local.busy = True
        try:
            client = botocore.session.get_session().create_client("dynamodb", region_name=_region())
            desc = client.describe_table(TableName=table)["Table"]
        finally:
            _local.busy = False

        def hash_of(key_schema: Iterable[Mapping[str, str]]) -> str | None:
            return next((k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH"), None)

        schema: dict[str, str | None] = {"": hash_of(desc["KeySchema"])}
        for index in desc.get("GlobalSecondaryIndexes", []):
            schema[index["IndexName"]] = hash_of(index["KeySchema"])
        for index in desc.get("LocalSecondaryIndexes", []):
            schema[index["IndexName"]] = schema[""]
        _schemas[table] = schema
    return _schemas[table]


_NAME = re.compile(r"#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = {
    "SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN", "if_not_exists",
    "list_append", "attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
    "contains", "size",
}  # fmt: skip


def _expression_names(expression: str | None, names: Mapping[str, str] | None) -> set[str]:
    """Top-level attribute names an expression reads or writes (values ``:x`` excluded)."""
    if not expression:
        return set()
    cleaned = re.sub(r":[A-Za-z0-9_]+", " ", expression)
    found = set()
    for token in _NAME.findall(re.sub(r"\[[0-9]+\]|\.[A-Za-z0-9_#]+", " ", cleaned)):
        if token.startswith("#"):
            found.add((names or {}).get(token, token))
        elif token not in _KEYWORDS:
            found.add(token)
    return found


def _key_equalities(params: Mapping[str, Any]) -> dict[str, str]:
    """``attr = :value`` pairs of a Query's KeyConditionExpression (or legacy KeyConditions)."""
    pairs: dict[str, str] = {}
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    expression = params.get("KeyConditionExpression") or ""
    for left, right in re.findall(r"([#A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)", expression):
        pairs[names.get(left, left)] = _value(values.get(right))
    for left, right in re.findall(r"(:[A-Za-z0-9_]+)\s*=\s*([#A-Za-z0-9_]+)", expression):
        pairs[names.get(right, right)] = _value(values.get(left))
    for attr, cond in (params.get("KeyConditions") or {}).items():
        if cond.get("ComparisonOperator") == "EQ":
            pairs[attr] = _value(cond["AttributeValueList"][0])
    return pairs


def _item_request(
    action: str, table_name: str, *, key: Mapping[str, Any], attributes: set[str] | None = None
) -> IamRequest:
    table, arn = _table(table_name)
    hash_key = _schema(table)[""]
    context: dict[str, Any] = {}
    if hash_key in key:
        context["dynamodb:LeadingKeys"] = [_value(key[hash_key])]
    if attributes is not None:
        context["dynamodb:Attributes"] = sorted(attributes)
    return {"action": action, "resource": arn, "context": context}


def _update_attributes(p: Mapping[str, Any]) -> set[str]:
    names = p.get("ExpressionAttributeNames")
    return (
        set(p["Key"])
        | _expression_names(p.get("UpdateExpression"), names)
        | _expression_names(p.get("ConditionExpression"), names)
        | set(p.get("AttributeUpdates") or {})
    )


def _dynamodb(operation: str, p: Mapping[str, Any]) -> list[IamRequest] | None:
    action = f"dynamodb:{operation}"
    if operation in ("GetItem", "DeleteItem"):
        return [_item_request(action, p["TableName"], key=p["Key"])]
    if operation == "PutItem":
        return [_item_request(action, p["TableName"], key=p["Item"], attributes=set(p["Item"]))]
    if operation == "UpdateItem":
        attrs = _update_attributes(p)
        return [_item_request(action, p["TableName"], key=p["Key"], attributes=attrs)]
    if operation in ("Query", "Scan"):
        table, arn = _table(p["TableName"])
        index = p.get("IndexName")
        resource = f"{arn}/index/{index}" if index else arn
        context: dict[str, Any] = {}
        if operation == "Query":
            hash_key = _schema(table).get(index or "")
            equal = _key_equalities(p)
            if hash_key in equal:
                context["dynamodb:LeadingKeys"] = [equal[hash_key]]
        return [{"action": action, "resource": resource, "context": context}]
    if operation == "TransactWriteItems":
        out = []
        for element in p["TransactItems"]:
            ((kind, spec),) = element.items()
            if kind == "Put":
                attrs = set(spec["Item"])
                out.append(
                    _item_request(
                        "dynamodb:PutItem", spec["TableName"], key=spec["Item"], attributes=attrs
                    )
                )
            elif kind == "Update":
                attrs = _update_attributes(spec)
                out.append(
                    _item_request(
                        "dynamodb:UpdateItem", spec["TableName"], key=spec["Key"], attributes=attrs
                    )
                )
            else:  # Delete, ConditionCheck
                name = "DeleteItem" if kind == "Delete" else "ConditionCheckItem"
                out.append(_item_request(f"dynamodb:{name}", spec["TableName"], key=spec["Key"]))
        return out
    if operation == "TransactGetItems":
        return [
            _item_request("dynamodb:GetItem", e["Get"]["TableName"], key=e["Get"]["Key"])
            for e in p["TransactItems"]
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        out = []
        for table_name, spec in p["RequestItems"].items():
            table, arn = _table(table_name)
            hash_key = _schema(table)[""]
            if operation == "BatchGetItem":
                keys = [k[hash_key] for k in spec["Keys"] if hash_key in k]
            else:
                keys = [
                    (w.get("PutRequest", {}).get("Item") or w["DeleteRequest"]["Key"])[hash_key]
                    for w in spec
                ]
            leading = sorted({_value(k) for k in keys})
            out.append(
                {"action": action, "resource": arn, "context": {"dynamodb:LeadingKeys": leading}}
            )
        return out
    if operation in ("DescribeTable", "DescribeTimeToLive", "DescribeContinuousBackups"):
        return [{"action": action, "resource": _table(p["TableName"])[1], "context": {}}]
    return None


# ---------------------------------------------------------------------------------------------
# Other services


def _bus_arn(name: str | None) -> str:
    if name and name.startswith("arn:"):
        return name
    return _arn("events", f"event-bus/{name or 'default'}")


def _put_events(p: Mapping[str, Any]) -> list[IamRequest]:
    by_bus: dict[str, list[Mapping[str, Any]]] = {}
    for entry in p["Entries"]:
        by_bus.setdefault(_bus_arn(entry.get("EventBusName")), []).append(entry)
    return [
        {
            "action": "events:PutEvents",
            "resource": bus,
            "context": {
                "events:source": sorted({e["Source"] for e in entries if "Source" in e}),
                "events:detail-type": sorted(
                    {e["DetailType"] for e in entries if "DetailType" in e}
                ),
            },
        }
        for bus, entries in by_bus.items()
    ]


def _queue_arn(url: str) -> str:
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{_region()}:{account}:{name}"


_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _other(service: str, operation: str, p: Mapping[str, Any]) -> list[IamRequest] | None:
    def one(action: str, resource: str, context: dict[str, Any] | None = None) -> list[IamRequest]:
        return [{"action": action, "resource": resource, "context": context or {}}]

    if service == "events" and operation == "PutEvents":
        return _put_events(p)
    if service == "ssm" and operation in ("GetParameter", "GetParameters"):
        names = p.get("Names") or [p.get("Name", "")]
        return [
            {
                "action": f"ssm:{operation}",
                "resource": _arn("ssm", f"parameter/{n.lstrip('/')}"),
                "context": {},
            }
            for n in names
        ]
    if service == "sns" and operation in ("Publish", "PublishBatch"):
        return one("sns:Publish", p.get("TopicArn") or p.get("TargetArn") or "")
    if service == "sqs" and "QueueUrl" in p:
        return one(f"sqs:{_SQS_ACTIONS.get(operation, operation)}", _queue_arn(p["QueueUrl"]))
    if service == "s3" and "Bucket" in p:
        bucket = p["Bucket"]
        if operation in ("GetObject", "HeadObject"):
            return one("s3:GetObject", f"arn:aws:s3:::{bucket}/{p['Key']}")
        if operation in ("PutObject", "DeleteObject"):
            return one(f"s3:{operation}", f"arn:aws:s3:::{bucket}/{p['Key']}")
        if operation in ("ListObjects", "ListObjectsV2"):
            return one("s3:ListBucket", f"arn:aws:s3:::{bucket}")
        return None
    if service == "secretsmanager" and "SecretId" in p:
        secret = p["SecretId"]
        resource = (
            secret if secret.startswith("arn:") else _arn("secretsmanager", f"secret:{secret}")
        )
        return one(f"secretsmanager:{operation}", resource)  # a name: the check resolves it
    if service == "bedrock-runtime" and "modelId" in p:
        model = p["modelId"]
        action = {"Converse": "InvokeModel", "ConverseStream": "InvokeModelWithResponseStream"}
        resource = (
            model if model.startswith("arn:") else _arn("bedrock", f"foundation-model/{model}")
        )
        return one(f"bedrock:{action.get(operation, operation)}", resource)
    if service == "kms" and "KeyId" in p:
        key = p["KeyId"]
        return one(f"kms:{operation}", key if key.startswith("arn:") else _arn("kms", f"key/{key}"))
    if service == "sts" and operation == "GetCallerIdentity":
        return []  # needs no permission
    return None


def iam_requests(
    service: str, operation: str, params: Mapping[str, Any]
) -> list[IamRequest] | None:
    """The IAM authorizations one API call needs, or None if this module cannot tell."""
    if service == "dynamodb":
        return _dynamodb(operation, params)
    return _other(service, operation, params)
