"""Where an action request came from: only a saved turn requests actions.

Any principal allowed to call ``events:PutEvents`` on the bus can publish an event that claims
the actions' source. The workers therefore take an ``ActionRequested`` as genuine only when the
conversation's outbox (written in the same transaction as the turn that requested it, by
agent_executor's role alone) holds an entry for that action id with the same type, payload,
requester, conversation and agent. Anything else performs nothing, creates no approval, and
raises, so it is retried, then dead-lettered, recorded and alerted by dlq_handler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agentocore import ddb
from agentocore.events.contracts import ActionRequested
from agentocore.events.outbox import outbox_pk

#: The fields of a request a saved turn vouches for.
BOUND_FIELDS = (
    "action_type",
    "action_id",
    "payload_version",
    "payload",
    "requested_by",
    "conversation_id",
    "agent_id",
)


class UnrequestedAction(PermissionError):
    """An ActionRequested no saved turn requested (forged, or altered on the way)."""


def bound(detail: Mapping[str, Any]) -> str:
    """The canonical JSON of the fields a saved turn vouches for."""
    fields = {k: detail.get(k) for k in BOUND_FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


class ActionProvenance(ddb.TableStore):
    """Checks an ``ActionRequested`` against the outbox of its conversation (one consistent
    Query of ``OUTBOX#<conversation>``, filtered on the action id)."""

    def saved(self, conversation_id: str, action_id: str) -> dict[str, Any] | None:
        """The detail of the outbox entry for ``action_id``, or None."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "FilterExpression": "contains(action_ids, :id)",
            "ExpressionAttributeValues": {
                ":pk": ddb.s(outbox_pk(conversation_id)),
                ":id": ddb.s(action_id),
            },
            "ProjectionExpression": "entries",
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                for entry in json.loads(item["entries"]["S"]):
                    detail = json.loads(entry.get("Detail") or "{}")
                    if detail.get("action_id") == action_id:
                        return dict(detail)
            last = page.get("LastEvaluatedKey")
            if not last:
                return None
            kwargs["ExclusiveStartKey"] = last

    def check(self, request: ActionRequested) -> None:
        """Raises :class:`UnrequestedAction` unless a saved turn requested exactly this."""
        if not request.conversation_id:
            raise UnrequestedAction(
                f"action {request.action_id} names no conversation: no saved turn requested it"
            )
        saved = self.saved(request.conversation_id, request.action_id)
        if saved is None:
            raise UnrequestedAction(
                f"action {request.action_id} is in no saved turn of conversation "
                f"{request.conversation_id}: not performed (forged or lost)"
            )
        try:
            vouched = ActionRequested.model_validate(saved).model_dump(mode="json")
        except ValueError:
            vouched = saved
        if bound(vouched) != bound(request.model_dump(mode="json")):
            raise UnrequestedAction(
                f"action {request.action_id} differs from what its turn requested "
                "(type, payload, requester, conversation or agent): not performed"
            )
