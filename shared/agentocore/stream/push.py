"""Live push to WebSocket clients: who listens to what, and sending to them.

A connection (API Gateway WebSocket API) listens to conversations and topics. Items in the
single table, all expiring after :data:`CONNECTION_TTL_S` (API Gateway's longest connection):

- ``WS#<connection id>`` / ``META``: its user and what it listens to (closed on $disconnect);
- ``CONV#<conversation id>`` / ``WS#<connection id>``: a subscription, with the subscriber's user;
- ``WSTOPIC#<topic>`` / ``WS#<connection id>``: a topic's listener (``approvals``).

Nothing is deleted (no function may DeleteItem): a closed or gone listener is marked ``gone``
and left to its TTL. The event log tells :meth:`SocketPusher.push` of every stored batch
(``EventLog.on_stored``): each record goes to the conversation's subscribers whose user is the
batch's owner (a subscription made before a conversation exists cannot listen to another user's
conversation), one message per record (``conversation_id``, ``seq``, ``type``, ...). A
subscriber reads the log after subscribing: a record stored before that read is in what it read,
one stored after it is pushed (the subscription is read after the record is stored, both
strongly consistent), so nothing is lost; the client drops the numbers it already has.
A gone connection (410) is marked and ends its push, never the run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from agentocore.aws import LazyClient
from agentocore.ddb import TableStore, is_condition_failure, n, s
from agentocore.memory.store import conv_pk

log = logging.getLogger(__name__)

#: API Gateway closes a WebSocket connection after 2 hours.
CONNECTION_TTL_S = 2 * 3600
#: post_to_connection takes at most 128 KB; a bigger record is not pushed (the client sees the
#: gap in the numbers and reads it over HTTP).
MAX_MESSAGE_BYTES = 128 * 1024
SUB_PREFIX = "WS#"
#: What one connection may listen to at once (its META item lists them).
MAX_SUBSCRIPTIONS = 100
TOPICS = ("approvals",)


def connection_pk(connection_id: str) -> str:
    return f"WS#{connection_id}"


def topic_pk(topic: str) -> str:
    return f"WSTOPIC#{topic}"


class ConnectionGone(Exception):
    """The connection is closed (API Gateway answered 410)."""


class TooManySubscriptions(Exception):
    """The connection already listens to :data:`MAX_SUBSCRIPTIONS` conversations and topics."""


class ManagementApi:
    """``apigatewaymanagementapi`` of one WebSocket API stage (``endpoint``:
    ``https://<api id>.execute-api.<region>.amazonaws.com/<stage>``), built on first use."""

    def __init__(self, endpoint: str, client: Any | None = None) -> None:
        self.endpoint = endpoint
        self._client = LazyClient(
            "apigatewaymanagementapi",
            client,
            endpoint_url=endpoint,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=2,
            read_timeout=5,
        )

    def post(self, connection_id: str, data: bytes) -> None:
        client = self._client.get()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException as exc:
            raise ConnectionGone(connection_id) from exc


def emulated_endpoint(endpoint: str, emulator: str | None = None) -> str:
    """``endpoint`` as an emulator serves it when ``AWS_ENDPOINT_URL`` points at one
    (LocalStack's path form ``<emulator>/_aws/execute-api/<api id>/<stage>``, also served by
    the project's local stack); unchanged otherwise."""
    emulator = os.environ.get("AWS_ENDPOINT_URL", "") if emulator is None else emulator
    found = re.match(r"^https://([A-Za-z0-9]+)\.execute-api\.[^/]+/([^/]+)/?$", endpoint)
    if not emulator or found is None:
        return endpoint
    return f"{emulator.rstrip('/')}/_aws/execute-api/{found.group(1)}/{found.group(2)}"


class LazyManagement:
    """The :class:`ManagementApi` of ``endpoint``, or of the endpoint the SSM ``parameter``
    holds (read on first use with Powertools' parameters, cached; a failed read is tried
    again on the next push). None when neither is configured."""

    def __init__(self, endpoint: str = "", parameter: str = "") -> None:
        self.endpoint = endpoint
        self.parameter = parameter
        self._api: ManagementApi | None = None

    def __call__(self) -> ManagementApi | None:
        if self._api is None and (self.endpoint or self.parameter):
            endpoint = self.endpoint
            if not endpoint:
                from aws_lambda_powertools.utilities.parameters import get_parameter

                try:
                    endpoint = str(get_parameter(self.parameter, max_age=3600))
                except Exception:
                    log.warning("the WebSocket endpoint parameter could not be read", exc_info=True)
                    return None
            self._api = ManagementApi(emulated_endpoint(endpoint))
        return self._api


class SocketConnections(TableStore):
    """The connections and their subscriptions."""

    def open(self, connection_id: str, user: str, *, approver: bool) -> None:
        now = self._clock()
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "PK": s(connection_pk(connection_id)),
                "SK": s("META"),
                "user_id": s(user),
                "approver": {"BOOL": approver},
                "connected_at": n(int(now)),
                "ttl": n(int(now) + CONNECTION_TTL_S),
            },
        )

    def _listen(self, pk: str, connection_id: str, user: str) -> None:
        now = int(self._clock())
        # first what to close on $disconnect (a missed $disconnect: the TTL and the 410), at
        # most MAX_SUBSCRIPTIONS of them
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"PK": s(connection_pk(connection_id)), "SK": s("META")},
                # (the TTL too, should $connect's item be missing: nothing stays for good)
                UpdateExpression="ADD #subs :pk SET #ttl = if_not_exists(#ttl, :ttl)",
                ConditionExpression=(
                    "attribute_not_exists(#subs) OR size(#subs) < :max OR contains(#subs, :one)"
                ),
                ExpressionAttributeNames={"#subs": "subs", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":pk": {"SS": [pk]},
                    ":one": s(pk),
                    ":max": n(MAX_SUBSCRIPTIONS),
                    ":ttl": n(now + CONNECTION_TTL_S),
                },
            )
        except Exception as exc:
            if is_condition_failure(exc):
                raise TooManySubscriptions(connection_id) from exc
            raise
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "PK": s(pk),
                "SK": s(SUB_PREFIX + connection_id),
                "user_id": s(user),
                "ttl": n(now + CONNECTION_TTL_S),
            },
        )

    def subscribe(self, connection_id: str, user: str, conversation_id: str) -> None:
        self._listen(conv_pk(conversation_id), connection_id, user)

    def subscribe_topic(self, connection_id: str, user: str, topic: str) -> None:
        self._listen(topic_pk(topic), connection_id, user)

    def unsubscribe(self, connection_id: str, conversation_id: str) -> None:
        """Stop listening (nothing happens for a conversation it was not listening to)."""
        pk = conv_pk(conversation_id)
        self._mark_quietly(pk, connection_id)
        self.client.update_item(
            TableName=self.table_name,
            Key={"PK": s(connection_pk(connection_id)), "SK": s("META")},
            UpdateExpression="DELETE #subs :pk",
            ExpressionAttributeNames={"#subs": "subs"},
            ExpressionAttributeValues={":pk": {"SS": [pk]}},
        )

    def mark_gone(self, pk: str, connection_id: str) -> None:
        """Stop pushing to ``connection_id`` from ``pk`` (the item expires at once)."""
        self._expire(pk, SUB_PREFIX + connection_id, only_existing=True)

    def _expire(self, pk: str, sk: str, *, only_existing: bool = False) -> None:
        """Mark the item ``gone`` and due for deletion now (no function may DeleteItem)."""
        condition = {"ConditionExpression": "attribute_exists(SK)"} if only_existing else {}
        self.client.update_item(
            TableName=self.table_name,
            Key={"PK": s(pk), "SK": s(sk)},
            UpdateExpression="SET #gone = :t, #ttl = :now",
            ExpressionAttributeNames={"#gone": "gone", "#ttl": "ttl"},
            ExpressionAttributeValues={":t": {"BOOL": True}, ":now": n(int(self._clock()))},
            **condition,
        )

    def close(self, connection_id: str) -> int:
        """$disconnect: every subscription of the connection marked gone; how many."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"PK": s(connection_pk(connection_id)), "SK": s("META")},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return 0
        pks = item.get("subs", {}).get("SS", [])
        for pk in pks:
            self._mark_quietly(pk, connection_id)
        self._expire(connection_pk(connection_id), "META")
        return len(pks)

    def _mark_quietly(self, pk: str, connection_id: str) -> None:
        try:
            self.mark_gone(pk, connection_id)
        except Exception as exc:
            if not is_condition_failure(exc):
                raise

    def listeners(self, pk: str, user: str | None = None) -> list[str]:
        """The connections listening to ``pk`` (only ``user``'s, when given)."""
        out: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :ws)",
            "ExpressionAttributeValues": {":pk": s(pk), ":ws": s(SUB_PREFIX)},
            "ConsistentRead": True,
        }
        now = self._clock()
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items") or []:
                if item.get("gone", {}).get("BOOL") or int(item["ttl"]["N"]) <= now:
                    continue
                if user is not None and item.get("user_id", {}).get("S") != user:
                    continue
                out.append(item["SK"]["S"][len(SUB_PREFIX) :])
            if not page.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class SocketPusher:
    """Sends to connections; a gone one is marked and skipped from then on."""

    def __init__(
        self,
        connections: SocketConnections,
        management: ManagementApi | Callable[[], ManagementApi | None] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connections = connections
        self._management = management
        self._clock = clock
        #: messages sent, connections found gone (for metrics and tests)
        self.sent = 0
        self.gone = 0

    @property
    def management(self) -> ManagementApi | None:
        m = self._management
        return m() if callable(m) and not isinstance(m, ManagementApi) else m

    def send(self, connection_id: str, message: dict[str, Any]) -> bool:
        """One message to one connection; False when it is gone (or no API is configured)."""
        api = self.management
        if api is None:
            return False
        data = json.dumps(message, separators=(",", ":"), default=str).encode()
        if len(data) > MAX_MESSAGE_BYTES:
            log.warning("message too big to push; the client reads it over HTTP")
            return True
        try:
            api.post(connection_id, data)
        except ConnectionGone:
            self.gone += 1
            return False
        self.sent += 1
        return True

    def send_all(
        self, pk: str, connection_ids: Iterable[str], messages: list[dict[str, Any]]
    ) -> None:
        for connection_id in connection_ids:
            for message in messages:
                try:
                    alive = self.send(connection_id, message)
                except Exception:  # a failing push never fails the writer
                    log.warning(
                        "push failed", exc_info=True, extra={"connection_id": connection_id}
                    )
                    break
                if not alive:
                    self.connections._mark_quietly(pk, connection_id)
                    break

    def push(self, conversation_id: str, owner: str | None, records: list[dict[str, Any]]) -> None:
        """Stored run events to the conversation's subscribers (``EventLog.on_stored``)."""
        if self.management is None or not owner:
            return
        pk = conv_pk(conversation_id)
        listeners = self.connections.listeners(pk, user=owner)
        if listeners:
            messages = [{"conversation_id": conversation_id, **r} for r in records]
            self.send_all(pk, listeners, messages)

    def push_topic(self, topic: str, message: dict[str, Any]) -> None:
        if self.management is None:
            return
        pk = topic_pk(topic)
        self.send_all(pk, self.connections.listeners(pk), [{"topic": topic, **message}])
