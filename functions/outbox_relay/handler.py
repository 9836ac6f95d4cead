"""outbox_relay: publishes the action requests a saved turn wrote to the outbox.

Fed by the table's DynamoDB stream (the event source mapping's FilterCriteria passes outbox
INSERTs only; records are checked again here). Powertools batch processing with partial batch
failures: a record whose publish fails is reported in ``batchItemFailures`` and retried (with
the records after it) until the mapping gives up and sends its on-failure record to the outbox
DLQ; the item then stays unpublished for ``republish``. Invoked directly with
``{"republish_older_than_s": N}`` it publishes every outbox item still unpublished after N
seconds (after the failure was fixed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)

from agentocore.config import Settings
from agentocore.events.outbox import OutboxRelay, is_outbox_insert
from agentocore.lambda_support import Singleton
from agentocore.tracing import function_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE = "outbox_relay"
logger = Logger(service=SERVICE)
tracer = function_tracer(SERVICE)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _build_relay() -> OutboxRelay:
    settings = Settings.from_env()
    return OutboxRelay(settings.table_name, settings.event_bus_name)


relay = Singleton(_build_relay)


@tracer.capture_method
def publish(record: DynamoDBRecord) -> int:
    if not is_outbox_insert(record.raw_event):
        logger.debug("not an outbox insert; skipped", extra={"event_id": record.event_id})
        return 0
    count = relay().relay(record.raw_event)
    keys = record.raw_event["dynamodb"]["Keys"]
    logger.info(
        "outbox item relayed",
        extra={"pk": keys["PK"]["S"], "sk": keys["SK"]["S"], "published": count},
    )
    return count


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "republish_older_than_s" in event:
        report = relay().republish(float(event["republish_older_than_s"]))
        logger.info(
            "outbox republished",
            extra={"published": len(report.published), "failed": len(report.failed)},
        )
        return {"published": report.published, "failed": report.failed}
    return process_partial_response(
        event=event, record_handler=publish, processor=processor, context=context
    )
