"""Publishing to the EventBridge bus (PutEvents, batched, failed entries raise)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentocore.aws import LazyClient
from agentocore.events.contracts import EventDetail

MAX_ENTRIES_PER_CALL = 10


class PublishError(RuntimeError):
    """EventBridge rejected one or more entries, or the PutEvents call failed."""


def put_events(client: Any, entries: Sequence[dict[str, Any]]) -> list[str]:
    """PutEvents in batches of 10; returns the event ids; raises :class:`PublishError` if any
    entry failed or the call itself did (after botocore's retries: throttling, timeouts), so
    callers handle one error type."""
    from botocore.exceptions import BotoCoreError, ClientError

    ids: list[str] = []
    for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
        batch = list(entries[start : start + MAX_ENTRIES_PER_CALL])
        try:
            response = client.put_events(Entries=batch)
        except (BotoCoreError, ClientError) as exc:
            raise PublishError(f"PutEvents failed: {type(exc).__name__}: {exc}") from exc
        results = response.get("Entries", [])
        failed = [e for e in results if e.get("ErrorCode")]
        if response.get("FailedEntryCount") or failed:
            raise PublishError(f"EventBridge rejected {len(failed)} entries: {failed}")
        ids.extend(str(e.get("EventId", "")) for e in results)
    return ids


class EventPublisher:
    """Publishes contract events to one bus (client built lazily)."""

    def __init__(self, event_bus_name: str, *, client: Any | None = None) -> None:
        self.event_bus_name = event_bus_name
        self._client = LazyClient("events", client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def entry(self, event: EventDetail) -> dict[str, Any]:
        return {
            "Source": event.SOURCE,
            "DetailType": event.DETAIL_TYPE,
            "Detail": event.to_detail(),
            "EventBusName": self.event_bus_name,
        }

    def publish(self, *events: EventDetail) -> list[str]:
        """Publish ``events``; raises :class:`PublishError` unless all were accepted."""
        return put_events(self.client, [self.entry(e) for e in events])
