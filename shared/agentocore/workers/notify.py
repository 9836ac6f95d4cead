"""SNS notifications (approver notices, DLQ alerts)."""

from __future__ import annotations

import json
from typing import Any

from agentocore.aws import LazyClient

SUBJECT_LIMIT = 100


class SnsNotifier:
    """Publishes JSON messages to one topic (client built lazily)."""

    def __init__(self, topic_arn: str, *, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = LazyClient("sns", client)

    def publish(self, subject: str, message: dict[str, Any], **attributes: str) -> str:
        """Publish; returns the SNS message id."""
        response = self._client.get().publish(
            TopicArn=self.topic_arn,
            Subject=subject[:SUBJECT_LIMIT],
            Message=json.dumps(message, separators=(",", ":"), default=str),
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            },
        )
        return str(response["MessageId"])
