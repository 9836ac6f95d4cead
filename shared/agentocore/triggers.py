"""Non-HTTP triggers of agent_executor turned into invocations: S3 objects, SNS messages and
schedules (EventBridge scheduled rules or EventBridge Scheduler).

A run acts as the trigger's principal (``s3:<bucket>``, ``sns:<topic>``, ``schedule:<name>``)
unless the deployment trusts user ids from that kind of trigger (``trusted``: Settings'
``trusted_user_triggers``); a trusted id is validated like a JWT sub."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentocore.aws import LazyClient
from agentocore.identity import IdentityError, trigger_user

SAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")


class TriggerError(ValueError):
    """The trigger's payload cannot start a run (it goes to the retry/DLQ path)."""


@dataclass(frozen=True)
class Invocation:
    """One agent run to perform."""

    conversation_id: str
    message: str
    user_id: str
    agent_id: str = "default"
    metadata: dict[str, str] = field(default_factory=dict)


def safe_id(raw: str, prefix: str = "") -> str:
    """A conversation id (``^[A-Za-z0-9_-]{1,64}$``) derived from arbitrary text."""
    cleaned = SAFE_ID.sub("-", raw).strip("-") or "x"
    return (prefix + cleaned)[:64]


@dataclass(frozen=True)
class Source:
    """Which trigger a payload came from, and whether its user ids are trusted."""

    kind: str
    name: str
    trusted: Collection[str] = ()

    def user(self, claimed: object | None) -> str:
        try:
            return trigger_user(self.kind, self.name, claimed, self.trusted)
        except IdentityError as exc:
            raise TriggerError(f"{self.kind} trigger: {exc}") from exc


def _from_payload(
    payload: Any,
    *,
    default_conversation: str,
    source: Source,
    meta: dict[str, str],
    claimed_user: object | None = None,
) -> Invocation:
    """A JSON ``{"message", "conversation_id"?, "user_id"?, "agent_id"?}`` or plain text."""
    if isinstance(payload, dict):
        message = payload.get("message") or payload.get("user_message")
        if not isinstance(message, str) or not message.strip():
            raise TriggerError("the payload has no 'message' string")
        conversation = payload.get("conversation_id") or default_conversation
        return Invocation(
            conversation_id=safe_id(str(conversation)),
            message=message,
            user_id=source.user(payload.get("user_id") or claimed_user),
            agent_id=str(payload.get("agent_id") or "default"),
            metadata=meta,
        )
    if isinstance(payload, str) and payload.strip():
        user = source.user(claimed_user)
        return Invocation(safe_id(default_conversation), payload, user, metadata=meta)
    raise TriggerError("empty message")


def _json_or_text(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, dict) else text


class S3MessageReader:
    """Reads uploaded objects: the conversation id comes from the key
    (``conversations/<id>/<file>`` or ``<id>.txt``); a JSON object body may carry the rest."""

    def __init__(
        self,
        *,
        client: Any | None = None,
        max_bytes: int = 16 * 1024,
        trusted: Collection[str] = (),
    ) -> None:
        self._client = LazyClient("s3", client)
        self.max_bytes = max_bytes
        self.trusted = trusted

    def invocations(self, event: Mapping[str, Any]) -> list[Invocation]:
        out = []
        for record in event.get("Records", []):
            bucket = record["s3"]["bucket"]["name"]
            key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
            size = int(record["s3"]["object"].get("size", 0))
            if size > self.max_bytes:
                raise TriggerError(f"s3://{bucket}/{key} is {size} bytes (limit {self.max_bytes})")
            obj = self._client.get().get_object(Bucket=bucket, Key=key)
            body = obj["Body"].read(self.max_bytes + 1)
            if len(body) > self.max_bytes:
                raise TriggerError(f"s3://{bucket}/{key} exceeds {self.max_bytes} bytes")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TriggerError(f"s3://{bucket}/{key} is not UTF-8 text") from exc
            parts = key.split("/")
            if len(parts) >= 3 and parts[0] == "conversations":
                conversation = parts[1]
            else:
                conversation = parts[-1].rsplit(".", 1)[0]
            out.append(
                _from_payload(
                    _json_or_text(text),
                    default_conversation=conversation,
                    source=Source("s3", bucket, self.trusted),
                    meta={"trigger": "s3", "object": f"s3://{bucket}/{key}"},
                    claimed_user=(obj.get("Metadata") or {}).get("user-id"),
                )
            )
        return out


def sns_invocations(event: Mapping[str, Any], trusted: Collection[str] = ()) -> list[Invocation]:
    """SNS records: the message is JSON or text; ``conversation_id`` may also come as a message
    attribute; by default one conversation per topic."""
    out = []
    for record in event.get("Records", []):
        sns = record["Sns"]
        topic = str(sns.get("TopicArn", "sns")).rsplit(":", 1)[-1]
        attrs = sns.get("MessageAttributes") or {}
        conversation = (attrs.get("conversation_id") or {}).get("Value") or f"sns-{topic}"
        out.append(
            _from_payload(
                _json_or_text(sns.get("Message", "")),
                default_conversation=conversation,
                source=Source("sns", topic, trusted),
                meta={"trigger": "sns", "message_id": str(sns.get("MessageId", ""))},
            )
        )
    return out


def schedule_invocation(
    event: Mapping[str, Any], default_message: str, trusted: Collection[str] = ()
) -> Invocation:
    """A scheduled rule ("Scheduled Event") or a schedule whose input is
    ``{"schedule": {"message", "conversation_id"?, "agent_id"?}}``."""
    if "schedule" in event:
        spec = event["schedule"]
        name = str(spec.get("name", "schedule")) if isinstance(spec, dict) else "schedule"
        return _from_payload(
            spec,
            default_conversation=f"schedule-{name}",
            source=Source("schedule", name, trusted),
            meta={"trigger": "schedule", "schedule": name},
        )
    rule = str((event.get("resources") or ["rule/schedule"])[0]).rsplit("/", 1)[-1]
    return Invocation(
        conversation_id=safe_id(rule, "schedule-"),
        message=default_message,
        user_id=Source("schedule", rule).user(None),
        metadata={"trigger": "schedule", "rule": rule, "time": str(event.get("time", ""))},
    )
